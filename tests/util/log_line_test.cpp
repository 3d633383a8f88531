// Tests for JSON log lines built piece by piece: each is one JSON object a log reader parses, its
// strings escaped, its numbers and raw pieces as given, the time first.
#include "util/log_line.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include <boost/json/parse.hpp>

namespace forkrun::util {
namespace {

namespace json = boost::json;

TEST(LogLine, TimeAndEventComeFirstAndTheLineIsOneObject) {
    LogLine created("run_created");
    created.str("runId", "run_1").num("nodes", 3);
    const std::string line = std::move(created).finish();
    ASSERT_EQ(line.rfind("{\"time\":\"", 0), 0u) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const json::object o = json::parse(line).as_object();
    ASSERT_EQ(o.size(), 4u);
    EXPECT_EQ(o.at("event"), "run_created");
    EXPECT_EQ(o.at("runId"), "run_1");
    EXPECT_EQ(o.at("nodes"), json::value(3));
    // RFC 3339 in UTC: 2026-12-02T06:40:52.123Z.
    const std::string time(o.at("time").as_string());
    ASSERT_GE(time.size(), 20u) << time;
    EXPECT_EQ(time[4], '-');
    EXPECT_EQ(time[10], 'T');
    EXPECT_EQ(time.back(), 'Z');
    // Keys keep the order they were added in.
    EXPECT_LT(line.find("\"event\""), line.find("\"runId\""));
    EXPECT_LT(line.find("\"runId\""), line.find("\"nodes\""));
}

TEST(LogLine, StringsAreEscapedSoALineCannotBeForged) {
    const std::string hostile = "a\"b\\c\nd\te\x01 \xc3\xa9 \",\"event\":\"forged";
    LogLine request("request");
    request.str("path", hostile);
    const std::string line = std::move(request).finish();
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const json::object o = json::parse(line).as_object();
    EXPECT_EQ(o.at("path").as_string(), hostile);
    EXPECT_EQ(o.at("event"), "request");
    EXPECT_EQ(o.size(), 3u);
}

TEST(LogLine, NumbersRawPiecesAndEmptyValues) {
    LogLine overload("overload");
    overload.num("zero", 0)
        .num("max", std::numeric_limits<std::uint64_t>::max())
        .raw("ratio", "0.25")
        .raw("nested", R"({"a":[1,null]})")
        .str("empty", "");
    const std::string line = std::move(overload).finish();
    EXPECT_NE(line.find(",\"max\":18446744073709551615,"), std::string::npos) << line;
    const json::object o = json::parse(line).as_object();
    EXPECT_EQ(o.at("zero"), json::value(0));
    EXPECT_EQ(o.at("max").as_uint64(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(o.at("ratio").as_double(), 0.25);
    EXPECT_EQ(o.at("nested"), json::parse(R"({"a":[1,null]})"));
    EXPECT_EQ(o.at("empty"), "");
}

TEST(LogLine, AnEventAloneIsAValidLine) {
    const json::object o = json::parse(LogLine("shutdown", 0).finish()).as_object();
    EXPECT_EQ(o.size(), 2u);
    EXPECT_EQ(o.at("event"), "shutdown");
}

}  // namespace
}  // namespace forkrun::util
