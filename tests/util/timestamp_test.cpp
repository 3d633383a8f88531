// Timestamps are written as the contract's UTC form, to the millisecond, whatever the date.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>

#include "util/timestamp.hpp"

namespace forkrun::util {
namespace {

using std::chrono::milliseconds;

Timestamp at_ms(long long ms) {
    return Timestamp(std::chrono::duration_cast<Timestamp::duration>(milliseconds(ms)));
}

// The reference: the C library's own formatting of the same instant.
std::string by_libc(long long ms) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

TEST(Timestamp, KnownInstants) {
    EXPECT_EQ(format_timestamp(at_ms(0)), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_timestamp(at_ms(1'796'083'199'999)), "2026-11-30T23:59:59.999Z");
    // A leap day, and a millisecond part with a leading zero.
    EXPECT_EQ(format_timestamp(at_ms(951'782'400'007)), "2000-02-29T00:00:00.007Z");
    EXPECT_EQ(format_timestamp(at_ms(7'258'118'399'999)), "2199-12-31T23:59:59.999Z");
    EXPECT_EQ(format_timestamp(at_ms(-1)), "1969-12-31T23:59:59.999Z");
}

TEST(Timestamp, SubMillisecondsAreCutNotRounded) {
    const auto t = at_ms(1'000) + std::chrono::microseconds(999);
    EXPECT_EQ(format_timestamp(t), "1970-01-01T00:00:01.000Z");
}

TEST(Timestamp, MatchesTheCLibraryOverManyDates) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<long long> any(0, 7'258'118'399'999);  // 1970-2199
    for (int i = 0; i < 20000; ++i) {
        const auto ms = any(rng);
        ASSERT_EQ(format_timestamp(at_ms(ms)), by_libc(ms)) << ms;
    }
}

}  // namespace
}  // namespace forkrun::util
