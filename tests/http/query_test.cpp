// Request targets and query strings: the parts a route reads, decoded as a client encoded them,
// what Beast lets through kept as sent, and a malformed escape refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/query.hpp"

namespace forkrun::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> pairs(std::string_view query) {
    std::vector<std::string> out;
    const auto params = parse_query(query);
    EXPECT_TRUE(params) << query;
    for (const auto& p : params.value_or(std::vector<QueryParam>{})) {
        out.push_back(p.key + "=" + p.value);
    }
    return out;
}

TEST(SplitTarget, GivesThePathItsSegmentsAndTheQueryAsSent) {
    const auto t = split_target("/v1/runs/run_a%2Fb/cancel?x=%41&y=a+b?c");
    EXPECT_EQ(t.path, "/v1/runs/run_a%2Fb/cancel");
    EXPECT_THAT(t.segments, ElementsAre("v1", "runs", "run_a%2Fb", "cancel"));
    EXPECT_EQ(t.query, "x=%41&y=a+b?c");
}

TEST(SplitTarget, EmptySegmentsAndTrailingSlashesAreKept) {
    EXPECT_THAT(split_target("/v1/runs/").segments, ElementsAre("v1", "runs", ""));
    EXPECT_THAT(split_target("/v1/runs//cancel").segments, ElementsAre("v1", "runs", "", "cancel"));
    EXPECT_THAT(split_target("/v1/runs?").segments, ElementsAre("v1", "runs"));
    EXPECT_EQ(split_target("/v1/runs?").query, "");
}

TEST(SplitTarget, WhatAUriCannotHoldIsReadAsSentNotRefused) {
    // Beast accepts these bytes in a target; RFC 3986 would have them escaped.
    const auto t = split_target("/v1/runs/{x}|\xc3\xa9%zz?workflowId=\"a b\"#frag");
    EXPECT_EQ(t.path, "/v1/runs/{x}|\xc3\xa9%zz");
    EXPECT_THAT(t.segments, ElementsAre("v1", "runs", "{x}|\xc3\xa9%zz"));
    EXPECT_EQ(t.query, "workflowId=\"a b\"#frag");
}

TEST(SplitTarget, APlainTargetIsSplitLikeAnEscapedOne) {
    // Nothing to encode or decode: read from the text's own slices (decision 77), the same parts.
    const auto t = split_target("/v1/runs?limit=50&view=summary");
    EXPECT_EQ(t.path, "/v1/runs");
    EXPECT_THAT(t.segments, ElementsAre("v1", "runs"));
    EXPECT_EQ(t.query, "limit=50&view=summary");
    EXPECT_THAT(split_target("/").segments, IsEmpty());
    EXPECT_THAT(split_target("/?a=1").segments, IsEmpty());
    EXPECT_THAT(split_target("//x").segments, ElementsAre("", "x"));
    EXPECT_THAT(split_target("/v1/runs/run_a/cancel").segments,
                ElementsAre("v1", "runs", "run_a", "cancel"));
    // As RFC 3986 reads it, a leading "/./" only keeps the path from starting with "//".
    EXPECT_THAT(split_target("/./v1/runs").segments, ElementsAre("v1", "runs"));
    EXPECT_EQ(split_target("/./v1/runs").path, "/./v1/runs");
}

TEST(SplitTarget, ATargetThatIsNotOriginFormHasNoSegments) {
    EXPECT_EQ(split_target("*").path, "*");
    EXPECT_THAT(split_target("*").segments, IsEmpty());
    const auto absolute = split_target("http://example.com/v1/runs?limit=1");
    EXPECT_EQ(absolute.path, "http://example.com/v1/runs?limit=1");
    EXPECT_THAT(absolute.segments, IsEmpty());
    EXPECT_EQ(absolute.query, "");
}

TEST(ParseQuery, DecodesEscapesAndPlusAsSpace) {
    EXPECT_THAT(pairs("status=waiting%2Crunning&workflowId=a+b%2Bc&limit=5"),
                ElementsAre("status=waiting,running", "workflowId=a b+c", "limit=5"));
    EXPECT_THAT(pairs("cursor=abc%3D%3D&k%C3%A9y=v"), ElementsAre("cursor=abc==", "k\xc3\xa9y=v"));
}

TEST(ParseQuery, EmptyPairsAreSkippedAndAKeyAloneHasAnEmptyValue) {
    EXPECT_THAT(pairs(""), IsEmpty());
    EXPECT_THAT(pairs("&&a=1&&b&"), ElementsAre("a=1", "b="));
    EXPECT_THAT(pairs("=x&a=1=2"), ElementsAre("=x", "a=1=2"));
}

TEST(ParseQuery, APlainQueryIsSplitLikeAnEscapedOne) {
    EXPECT_THAT(pairs("limit=50&view=full&workflowId=a+b"),
                ElementsAre("limit=50", "view=full", "workflowId=a b"));
    EXPECT_THAT(pairs("a&=&+=+&x=?/:@"), ElementsAre("a=", "=", " = ", "x=?/:@"));
}

TEST(ParseQuery, CharactersAUriCannotHoldAreTakenAsThemselves) {
    EXPECT_THAT(pairs("workflowId={wf}|\"q\"&x=[1]"),
                ElementsAre("workflowId={wf}|\"q\"", "x=[1]"));
}

TEST(ParseQuery, AMalformedEscapeAnywhereFailsTheQuery) {
    for (const char* bad : {"a=%zz", "a=%4", "a=%", "%g1=x", "a=1&b=%2", "a=%%41"}) {
        EXPECT_FALSE(parse_query(bad)) << bad;
    }
}

}  // namespace
}  // namespace forkrun::http
