// The forks part of the config file: the spawn cap it sets and the values it refuses.
#include "forks/forks_config.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace forkrun::forks {
namespace {

TEST(ForksConfig, ForkSpawnLimitIsReadAndDefaultsToZeroForTheCoreBasedDefault) {
    ForksConfig config;
    std::vector<std::string> problems;
    read_forks_config(boost::json::parse(R"({"teardownTimeoutMs": 100})"), config, problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(config.fork_spawn_limit, 0u);

    read_forks_config(boost::json::parse(R"({"forkSpawnLimit": 3})"), config, problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(config.fork_spawn_limit, 3u);
}

TEST(ForksConfig, ForkSpawnLimitOutsideOneTo1024IsAProblem) {
    for (const char* doc : {R"({"forkSpawnLimit": 0})", R"({"forkSpawnLimit": 1025})",
                            R"({"forkSpawnLimit": -1})", R"({"forkSpawnLimit": "4"})"}) {
        ForksConfig config;
        std::vector<std::string> problems;
        read_forks_config(boost::json::parse(doc), config, problems);
        ASSERT_EQ(problems.size(), 1u) << doc;
        EXPECT_EQ(problems[0], "forkSpawnLimit must be an integer from 1 to 1024") << doc;
        EXPECT_EQ(config.fork_spawn_limit, 0u) << doc;
    }
}

}  // namespace
}  // namespace forkrun::forks
