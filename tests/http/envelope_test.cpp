// The envelope and request ids, as every response carries them.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>

#include "http/envelope.hpp"

namespace forkrun::http {
namespace {

namespace json = boost::json;

TEST(Envelope, CarriesCodeDataMessageAndRequestId) {
    auto v = json::parse(envelope(200, R"({"id":"run_x"})", "success", "abc-123")).as_object();
    EXPECT_EQ(v.at("code"), 200);
    EXPECT_EQ(v.at("data").at("id"), "run_x");
    EXPECT_EQ(v.at("message"), "success");
    EXPECT_EQ(v.at("requestId"), "abc-123");
}

TEST(Envelope, EscapesMessages) {
    auto v = json::parse(envelope(404, "null", "no route \"/x\"\n", "r")).as_object();
    EXPECT_EQ(v.at("message"), "no route \"/x\"\n");
    EXPECT_TRUE(v.at("data").is_null());
}

TEST(Envelope, ValidationListsEveryProblem) {
    controller::FieldErrors errors{{"/workflowId", "is required"},
                                   {"/workflowDefinition/nodes/a~1b", "unknown type"}};
    auto v =
        json::parse(validation_envelope(errors, "invalid request: 2 problems", "r")).as_object();
    EXPECT_EQ(v.at("code"), 400);
    const auto& list = v.at("data").at("errors").as_array();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].at("path"), "/workflowId");
    EXPECT_EQ(list[1].at("path"), "/workflowDefinition/nodes/a~1b");
    EXPECT_EQ(list[1].at("message"), "unknown type");
}

// Found by fuzz_api: a request target or query holding bytes that are not UTF-8 was echoed into
// the message ("no such route: ...") or an error pointer as it was, so the body was not JSON.
TEST(Envelope, StaysValidJsonWhateverBytesTheRequestHeld) {
    const std::string replacement = "\xef\xbf\xbd";
    auto text = [](const json::value& v) { return std::string(v.as_string()); };
    auto v = json::parse(envelope(404, "null", "no such route: /v1/\x85\xff\xc3", "r"));
    EXPECT_EQ(text(v.at("message")),
              "no such route: /v1/" + replacement + replacement + replacement);

    controller::FieldErrors errors{{"/query/\xff", "unknown status \"\xc0\x80\""}};
    auto list = json::parse(validation_envelope(errors, "invalid request: /query/\xff", "r"));
    EXPECT_EQ(text(list.at("message")), "invalid request: /query/" + replacement);
    const auto& error = list.at("data").at("errors").at(0);
    EXPECT_EQ(text(error.at("path")), "/query/" + replacement);
    EXPECT_EQ(text(error.at("message")), "unknown status \"" + replacement + replacement + "\"");

    // Well-formed text is kept as it is; overlong forms, surrogates and truncations are not.
    EXPECT_EQ(valid_utf8("caf\xc3\xa9 \xf0\x9f\x99\x82"), "caf\xc3\xa9 \xf0\x9f\x99\x82");
    EXPECT_EQ(valid_utf8("\xe0\x80\xaf"), replacement + replacement + replacement);
    EXPECT_EQ(valid_utf8("\xed\xa0\x80"), replacement + replacement + replacement);
    EXPECT_EQ(valid_utf8("\xf4\x90\x80\x80"),
              replacement + replacement + replacement + replacement);
    EXPECT_EQ(valid_utf8("a\xe2\x82"), "a" + replacement + replacement);
}

TEST(Envelope, RequestIdEchoesOnlyWellFormedIds) {
    EXPECT_EQ(request_id_for("abc-123_x.y"), "abc-123_x.y");
    EXPECT_EQ(request_id_for(std::string(128, 'a')), std::string(128, 'a'));
    for (std::string bad : {std::string(), std::string(129, 'a'), std::string("has space"),
                            std::string("semi;colon"), std::string("\xc3\xa9")}) {
        const auto id = request_id_for(bad);
        EXPECT_NE(id, bad);
        EXPECT_FALSE(id.empty());
    }
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        EXPECT_TRUE(seen.insert(request_id_for("")).second);
    }
}

}  // namespace
}  // namespace forkrun::http
