// GET /v1/runs/{id}'s long-poll parameters: what a client asks for, and every problem named at
// its pointer.
#include <gtest/gtest.h>

#include <chrono>

#include "controller/field_error_print.hpp"
#include "http/long_poll.hpp"

namespace forkrun::http {
namespace {

using namespace std::chrono_literals;

TEST(LongPoll, NoQueryWaitsForNothing) {
    controller::FieldErrors errors;
    const auto poll = parse_long_poll("", 60s, errors);
    EXPECT_TRUE(errors.empty());
    EXPECT_FALSE(poll.want_terminal);
    EXPECT_EQ(poll.timeout_ms, 30000);
}

TEST(LongPoll, ReadsWhatToWaitForAndHowLong) {
    controller::FieldErrors errors;
    const auto terminal = parse_long_poll("waitUntil=terminal&timeoutMs=2500", 60s, errors);
    ASSERT_TRUE(terminal.want_terminal);
    EXPECT_TRUE(*terminal.want_terminal);
    EXPECT_EQ(terminal.timeout_ms, 2500);
    const auto running = parse_long_poll("timeoutMs=0&waitUntil=running&other=1", 60s, errors);
    ASSERT_TRUE(running.want_terminal);
    EXPECT_FALSE(*running.want_terminal);
    EXPECT_EQ(running.timeout_ms, 0);
    EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
}

TEST(LongPoll, EveryBadValueIsNamedAtItsPointer) {
    controller::FieldErrors errors;
    parse_long_poll("waitUntil=done&timeoutMs=60001", 60s, errors);
    ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
    EXPECT_EQ(errors[0].path, "/query/waitUntil");
    EXPECT_EQ(errors[0].message, "must be \"running\" or \"terminal\"");
    EXPECT_EQ(errors[1].path, "/query/timeoutMs");
    EXPECT_EQ(errors[1].message, "must be an integer from 0 to 60000");
    for (const char* bad : {"timeoutMs=", "timeoutMs=-1", "timeoutMs=1.5", "timeoutMs=12x"}) {
        controller::FieldErrors one;
        parse_long_poll(bad, 60s, one);
        ASSERT_EQ(one.size(), 1u) << bad;
        EXPECT_EQ(one[0].path, "/query/timeoutMs") << bad;
    }
}

TEST(LongPoll, AMalformedEscapeIsOneProblemOfTheQuery) {
    controller::FieldErrors errors;
    const auto poll = parse_long_poll("waitUntil=terminal&timeoutMs=%zz", 60s, errors);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].path, "/query");
    EXPECT_EQ(errors[0].message, "the query string is malformed");
    EXPECT_FALSE(poll.want_terminal);
}

}  // namespace
}  // namespace forkrun::http
