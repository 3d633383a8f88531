// A request body as the run endpoints read it: which Content-Types are JSON, what counts as no
// body, and the exact problem of a body that is not JSON, nests too deep or overflows a double.
#include <gtest/gtest.h>

#include <boost/json/error.hpp>
#include <string>

#include "http/request_body.hpp"

namespace forkrun::http {
namespace {

TEST(RequestBody, JsonMediaTypeIgnoresCaseParametersAndSpacesBeforeThem) {
    for (const std::string_view ct :
         {"application/json", "Application/JSON", "application/json; charset=utf-8",
          "application/json  ;charset=x", "application/json;"}) {
        EXPECT_TRUE(is_json_media_type(ct)) << ct;
    }
    for (const std::string_view ct :
         {"", "text/plain", "application/jsonx", " application/json", "application/json\t",
          "application/*", "application/problem+json", "application/json, text/plain"}) {
        EXPECT_FALSE(is_json_media_type(ct)) << ct;
    }
}

TEST(RequestBody, OnlyWhitespaceIsABlankBody) {
    EXPECT_TRUE(is_blank_body(""));
    EXPECT_TRUE(is_blank_body(" \t\r\n"));
    EXPECT_FALSE(is_blank_body("{}"));
    EXPECT_FALSE(is_blank_body(" x "));
    EXPECT_FALSE(is_blank_body("\v"));
}

TEST(RequestBody, AsciiCaseIsIgnoredAndNothingElse) {
    EXPECT_TRUE(iequals_ascii("Bearer ", "bEARER "));
    EXPECT_FALSE(iequals_ascii("bearer", "bearer "));
    EXPECT_FALSE(iequals_ascii("\xc3\xa9", "\xc3\x89"));  // é and É differ past ASCII
}

std::string request_body_problem(std::string_view body) {
    controller::FieldErrors errors;
    const auto v = parse_json_body(body, errors);
    EXPECT_FALSE(v) << body;
    EXPECT_EQ(errors.size(), 1u) << body;
    return errors.empty() ? "" : errors[0].path + " " + errors[0].message;
}

// The root's problem when Boost.JSON fails with `e`.
std::string not_json(boost::json::error e) {
    return " the body is not valid JSON (" + boost::json::make_error_code(e).message() + ")";
}

TEST(RequestBody, EachBadBodyGetsItsOneProblem) {
    EXPECT_EQ(request_body_problem(""), not_json(boost::json::error::incomplete));
    EXPECT_EQ(request_body_problem("{\"a\":1,}"), not_json(boost::json::error::syntax));
    EXPECT_EQ(request_body_problem("{} x"), not_json(boost::json::error::extra_data));
    EXPECT_EQ(request_body_problem(std::string(kMaxBodyDepth + 1, '[') +
                                   std::string(kMaxBodyDepth + 1, ']')),
              not_json(boost::json::error::too_deep));
    EXPECT_EQ(request_body_problem("{\"props\":{\"n\":[1,1e999]}}"),
              "/props/n/1 is a number out of range (beyond a double's 1.8e308)");
}

TEST(RequestBody, AGoodBodyIsItsJson) {
    controller::FieldErrors errors;
    const auto v =
        parse_json_body(std::string(kMaxBodyDepth, '[') + std::string(kMaxBodyDepth, ']'), errors);
    EXPECT_TRUE(v);
    EXPECT_TRUE(errors.empty());
    const auto obj = parse_json_body("{\"reason\":\"x\"}", errors);
    ASSERT_TRUE(obj);
    EXPECT_EQ(obj->at("reason").as_string(), "x");
}

}  // namespace
}  // namespace forkrun::http
