// Run ids and tokens: the shape a client sees, URL-safe, and never the same twice.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/run_ids.hpp"

namespace forkrun::controller {
namespace {

TEST(RunIds, ANewIdIsRunAndTwentyTwoUrlSafeCharactersAndNeverRepeats) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string id = new_run_id();
        ASSERT_EQ(id.size(), 26u) << id;
        EXPECT_EQ(id.substr(0, 4), "run_");
        EXPECT_TRUE(is_run_id(id)) << id;
        EXPECT_EQ(id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_",
                                       4),
                  std::string::npos)
            << id;
        EXPECT_TRUE(seen.insert(id).second) << "repeated: " << id;
    }
}

TEST(RunIds, AnythingElseCannotNameARun) {
    const std::string good = new_run_id();
    EXPECT_FALSE(is_run_id(""));
    EXPECT_FALSE(is_run_id("run_"));
    EXPECT_FALSE(is_run_id(good.substr(0, good.size() - 1)));
    EXPECT_FALSE(is_run_id(good + "A"));
    EXPECT_FALSE(is_run_id("job_" + good.substr(4)));
    std::string slash = good;
    slash[10] = '/';
    EXPECT_FALSE(is_run_id(slash));
    std::string dot = good;
    dot[10] = '.';
    EXPECT_FALSE(is_run_id(dot));
}

TEST(RunIds, ATokenHasFourCharactersForEveryThreeBytesRoundedUp) {
    EXPECT_EQ(random_token(0), "");
    EXPECT_EQ(random_token(1).size(), 2u);
    EXPECT_EQ(random_token(3).size(), 4u);
    EXPECT_EQ(random_token(16).size(), 22u);
    EXPECT_EQ(random_token(32).size(), 43u);
    EXPECT_NE(random_token(16), random_token(16));
}

// Ids made on several threads at once, past many refills of each thread's block of random
// bytes (and tokens bigger than a block), are all different.
TEST(RunIds, IdsFromSeveralThreadsAcrossRefillsNeverRepeat) {
    constexpr int kThreads = 4;
    constexpr int kEach = 2000;
    std::vector<std::vector<std::string>> made(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&made, t] {
            for (int i = 0; i < kEach; ++i) {
                made[t].push_back(new_run_id());
            }
            made[t].push_back(random_token(1500));
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    std::set<std::string> seen;
    for (const auto& ids : made) {
        for (const auto& id : ids) {
            EXPECT_TRUE(seen.insert(id).second) << "repeated: " << id;
        }
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * (kEach + 1)));
}

}  // namespace
}  // namespace forkrun::controller
