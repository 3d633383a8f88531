// How `runs create --wait/--follow` and `runs watch` plan their wait: what they show where, the
// deadline of --timeout, and the exact refusal of a --timeout that is not a positive number.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <string>

#include "app/cli_wait.hpp"

namespace forkrun::app {
namespace {

CliContext cli_wait_context(bool json, bool tty) {
    return CliContext{ApiClient("http://127.0.0.1:1", ""), json, tty};
}

TEST(CliWait, FollowShowsEventsElseJsonShowsNothingAndATerminalAProgressLine) {
    const auto plain = cli_wait_context(false, false);
    const auto json = cli_wait_context(true, true);
    const auto tty = cli_wait_context(false, true);
    EXPECT_EQ(wait_plan(plain, std::nullopt, std::nullopt, false)->show, Show::kEvents);
    EXPECT_EQ(wait_plan(json, std::nullopt, std::nullopt, false)->show, Show::kNothing);
    EXPECT_EQ(wait_plan(tty, std::nullopt, std::nullopt, false)->show, Show::kProgress);
    for (const auto* ctx : {&plain, &json, &tty}) {
        EXPECT_EQ(wait_plan(*ctx, std::nullopt, std::nullopt, true)->show, Show::kEvents);
    }
}

TEST(CliWait, ATimeoutIsADeadlineThatManySecondsAheadAndTheReportPathIsKept) {
    const auto ctx = cli_wait_context(false, false);
    const auto before = std::chrono::steady_clock::now();
    const auto plan = wait_plan(ctx, std::string("2.5"), std::string("out/report.xml"), false);
    const auto after = std::chrono::steady_clock::now();
    ASSERT_TRUE(plan);
    ASSERT_TRUE(plan->deadline);
    EXPECT_GE(*plan->deadline, before + std::chrono::milliseconds(2500));
    EXPECT_LE(*plan->deadline, after + std::chrono::milliseconds(2500));
    EXPECT_EQ(plan->junit, "out/report.xml");
    const auto none = wait_plan(ctx, std::nullopt, std::nullopt, false);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->deadline);
    EXPECT_FALSE(none->junit);
}

TEST(CliWait, ATimeoutThatIsNotAPositiveNumberIsRefusedByName) {
    const auto ctx = cli_wait_context(false, false);
    for (const std::string bad : {"0", "-1", "abc", "1s", "", " 1", "nan", "0x10"}) {
        testing::internal::CaptureStderr();
        const auto plan = wait_plan(ctx, bad, std::nullopt, false);
        const std::string err = testing::internal::GetCapturedStderr();
        EXPECT_FALSE(plan) << bad;
        EXPECT_EQ(err, "forkrun: --timeout wants a positive number of seconds, not " + bad + "\n");
    }
}

TEST(CliWait, TheStatusOfARunIsItsStatusStringOrNothing) {
    EXPECT_EQ(status_of(boost::json::parse(R"({"status":"running"})").as_object()), "running");
    EXPECT_EQ(status_of(boost::json::parse(R"({"status":3})").as_object()), "");
    EXPECT_EQ(status_of(boost::json::parse(R"({})").as_object()), "");
}

}  // namespace
}  // namespace forkrun::app
