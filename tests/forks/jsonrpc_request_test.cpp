// JSON-RPC request bodies as the gateway reads them: one parse, every call checked, only the
// known members written on, limits on depth and batch size, and error objects under the caller's
// ids.
#include "forks/jsonrpc_request.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <string>

namespace forkrun::forks {
namespace {

namespace json = boost::json;

std::string nested(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

TEST(JsonRpcRequest, ASingleCallIsReadAndWrittenBackWithOnlyItsKnownMembers) {
    auto body = parse_jsonrpc_body(
        R"({"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[],"extra":{"x":1}})", {});
    ASSERT_TRUE(body);
    EXPECT_FALSE(body->batch);
    ASSERT_EQ(body->calls.size(), 1u);
    const auto& c = body->calls[0];
    EXPECT_TRUE(c.invalid.empty());
    EXPECT_EQ(c.method, "eth_chainId");
    EXPECT_EQ(c.id, 7);
    EXPECT_EQ(json::serialize(c.request),
              R"({"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]})");
}

TEST(JsonRpcRequest, ADuplicatedMethodKeyIsWrittenOnAsTheOneThatWasPoliced) {
    auto body = parse_jsonrpc_body(
        R"({"jsonrpc":"2.0","id":1,"method":"eth_chainId","method":"anvil_setRpcUrl"})", {});
    ASSERT_TRUE(body);
    const auto& c = body->calls[0];
    EXPECT_EQ(json::serialize(c.request.at("method")), "\"" + c.method + "\"");
    EXPECT_EQ(c.request.size(), 3u);
}

TEST(JsonRpcRequest, BatchElementsAreCheckedOneByOne) {
    auto body = parse_jsonrpc_body(R"([{"jsonrpc":"2.0","id":"a","method":"eth_blockNumber"},
        {"jsonrpc":"1.0","id":2,"method":"eth_chainId"}, 5, {"jsonrpc":"2.0","id":{"x":1},"method":"m"},
        {"jsonrpc":"2.0","method":"eth_chainId"}, {"jsonrpc":"2.0","id":3,"method":"x","params":"s"}])",
                                   {});
    ASSERT_TRUE(body);
    EXPECT_TRUE(body->batch);
    ASSERT_EQ(body->calls.size(), 6u);
    EXPECT_TRUE(body->calls[0].invalid.empty());
    EXPECT_EQ(body->calls[0].id, "a");
    EXPECT_FALSE(body->calls[1].invalid.empty());
    EXPECT_EQ(body->calls[1].id, 2);  // still echoed
    EXPECT_FALSE(body->calls[2].invalid.empty());
    EXPECT_FALSE(body->calls[3].invalid.empty());
    EXPECT_TRUE(body->calls[3].id.is_null());
    EXPECT_TRUE(body->calls[4].invalid.empty());
    EXPECT_TRUE(body->calls[4].notification);
    EXPECT_FALSE(body->calls[4].request.contains("id"));
    EXPECT_FALSE(body->calls[5].invalid.empty());
}

TEST(JsonRpcRequest, DepthWithinTheLimitIsReadWholeAndDeeperIsAParseError) {
    const std::string ok =
        R"([{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":)" + nested(40) + "}]";
    auto body = parse_jsonrpc_body(ok, {});
    ASSERT_TRUE(body);
    EXPECT_TRUE(body->calls[0].invalid.empty());
    EXPECT_EQ(body->calls[0].method, "eth_blockNumber");

    const std::string deep =
        R"([{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":)" + nested(80) + "}]";
    auto refused = parse_jsonrpc_body(deep, {});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, kParseErrorCode);
}

TEST(JsonRpcRequest, NotJsonEmptyBatchesAndHugeNumbersAreErrorsOfTheWholeBody) {
    EXPECT_EQ(parse_jsonrpc_body("{not json", {}).error().code, kParseErrorCode);
    EXPECT_EQ(parse_jsonrpc_body("[]", {}).error().code, kInvalidRequestCode);
    EXPECT_EQ(parse_jsonrpc_body(R"({"jsonrpc":"2.0","id":1e400,"method":"m"})", {}).error().code,
              kParseErrorCode);
}

TEST(JsonRpcRequest, ABatchOverTheLimitMarksEveryCallWithTheLimit) {
    std::string big = "[";
    for (int i = 0; i < 11; ++i) {
        big += (i ? "," : "") + std::string(R"({"jsonrpc":"2.0","id":)") + std::to_string(i) +
               R"(,"method":"eth_chainId"})";
    }
    big += "]";
    JsonRpcLimits limits;
    limits.max_batch = 10;
    auto body = parse_jsonrpc_body(big, limits);
    ASSERT_TRUE(body);
    EXPECT_TRUE(body->over_batch_limit);
    ASSERT_EQ(body->calls.size(), 11u);
    for (const auto& c : body->calls) {
        EXPECT_NE(c.invalid.find("limit of 10"), std::string::npos) << c.invalid;
    }
    EXPECT_EQ(body->calls[10].id, 10);
}

TEST(JsonRpcRequest, ABodyOfTooManyValuesIsRefusedBeforeItIsParsed) {
    std::string body = R"({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[)";
    for (int i = 0; i < 349000; ++i) {
        body += i ? ",{}" : "{}";
    }
    body += "]}";
    auto refused = parse_jsonrpc_body(body, {});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, kLimitExceededCode);
    // Commas inside strings do not count.
    auto ok = parse_jsonrpc_body(R"({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[")" +
                                     std::string(200000, ',') + R"("]})",
                                 {});
    EXPECT_TRUE(ok);
}

TEST(JsonRpcRequest, AFractionalIdIsInvalid) {
    auto body = parse_jsonrpc_body(R"({"jsonrpc":"2.0","id":1.5,"method":"eth_chainId"})", {});
    ASSERT_TRUE(body);
    EXPECT_FALSE(body->calls[0].invalid.empty());
}

TEST(JsonRpcRequest, ErrorObjectsEchoTheId) {
    auto e = json::parse(jsonrpc_error("abc", -32601, "no \"such\" method"));
    EXPECT_EQ(e.at("id"), "abc");
    EXPECT_EQ(e.at("jsonrpc"), "2.0");
    EXPECT_EQ(e.at("error").at("code"), -32601);
    EXPECT_EQ(e.at("error").at("message"), "no \"such\" method");
    EXPECT_TRUE(json::parse(jsonrpc_error(nullptr, -32700, "x")).at("id").is_null());
}

}  // namespace
}  // namespace forkrun::forks
