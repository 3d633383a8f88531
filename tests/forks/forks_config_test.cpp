// The forks part of the config file: the spawn cap it sets and the values it refuses.
#include "forks/forks_config.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
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

TEST(ForksConfig, PinnedPoolsAreReadPerChainAndDefaultToNone) {
    ForksConfig config;
    std::vector<std::string> problems;
    read_forks_config(boost::json::parse(R"({"chains": {
        "1": {"upstreamRpcUrl": "http://127.0.0.1:1", "pinnedPools": {"0": 1, "19000000": 2}},
        "8453": {"upstreamRpcUrl": "http://127.0.0.1:2"}}})"),
                      config, problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(config.chains[1].pinned_pools,
              (std::map<std::uint64_t, std::size_t>{{0, 1}, {19000000, 2}}));
    EXPECT_TRUE(config.chains[8453].pinned_pools.empty());
}

TEST(ForksConfig, EveryBadPinnedPoolIsAProblem) {
    ForksConfig config;
    std::vector<std::string> problems;
    read_forks_config(boost::json::parse(R"({"chains": {
        "1": {"pinnedPools": {"x": 1, "-1": 1, "5": 0, "6": 65, "7": "2"}},
        "2": {"pinnedPools": [5]}}})"),
                      config, problems);
    EXPECT_EQ(problems.size(), 6u);
    EXPECT_NE(std::find(problems.begin(), problems.end(),
                        "chains.1.pinnedPools.x: the key must be a block number"),
              problems.end());
    EXPECT_NE(std::find(problems.begin(), problems.end(),
                        "chains.1.pinnedPools.6 must be a pool size from 1 to 64"),
              problems.end());
    EXPECT_NE(std::find(problems.begin(), problems.end(),
                        "chains.2.pinnedPools must be an object of block number to pool size"),
              problems.end());
    EXPECT_TRUE(config.chains[1].pinned_pools.empty());
}

TEST(ForksConfig, SpawnAheadDefaultsToOnePerConfiguredChainAndAChainsOwnCountWins) {
    ForksConfig config;
    std::vector<std::string> problems;
    read_forks_config(boost::json::parse(R"({"chains": {"1": {}, "10": {"spawnAhead": 0}}})"),
                      config, problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(config.spawn_ahead_of(1), 1u);
    EXPECT_EQ(config.spawn_ahead_of(10), 0u);
    EXPECT_EQ(config.spawn_ahead_of(8453), 0u) << "a chain not configured has none";
    EXPECT_EQ(config.spawn_ahead_max_age, std::chrono::milliseconds(60000));

    read_forks_config(boost::json::parse(R"({"spawnAhead": 3, "spawnAheadMaxAgeMs": 5000,
        "chains": {"1": {}, "10": {"spawnAhead": 2}}})"),
                      config, problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(config.spawn_ahead_of(1), 3u);
    EXPECT_EQ(config.spawn_ahead_of(10), 2u);
    EXPECT_EQ(config.spawn_ahead_max_age, std::chrono::milliseconds(5000));
}

TEST(ForksConfig, EveryBadSpawnAheadIsAProblem) {
    ForksConfig config;
    std::vector<std::string> problems;
    read_forks_config(boost::json::parse(R"({"spawnAhead": 17, "spawnAheadMaxAgeMs": 0,
        "chains": {"1": {"spawnAhead": -1}, "2": {"spawnAhead": "1"}}})"),
                      config, problems);
    EXPECT_EQ(problems, (std::vector<std::string>{
                            "spawnAheadMaxAgeMs must be a positive integer (milliseconds)",
                            "spawnAhead must be an integer from 0 to 16",
                            "chains.1.spawnAhead must be an integer from 0 to 16",
                            "chains.2.spawnAhead must be an integer from 0 to 16"}));
    EXPECT_EQ(config.spawn_ahead, 1u);
}

}  // namespace
}  // namespace forkrun::forks
