// Tests for how a complete HTTP reply becomes one result per call: results, JSON-RPC errors, HTTP
// statuses with the provider's explanation, bodies that are not JSON-RPC, and batches matched by
// id.
#include "forks/rpc_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>

namespace forkrun::forks {
namespace {

using ::testing::EndsWith;
using ::testing::StartsWith;

/// The error of a reply to call 1 labelled "chain 1: eth_call", from `host:1`.
RpcError rpc_reply_error(int status, std::string_view body) {
    RpcResult r = read_call_reply(status, body, 1, "chain 1: eth_call", "host:1");
    EXPECT_FALSE(r) << body;
    return r ? RpcError{} : r.error();
}

// Found by fuzz_rpc_response: Boost.JSON reads 1e4002 as infinity and writes it back as
// `Infinity`, which is not JSON, so such a result would have broken every Run JSON it reached.
TEST(RpcClient, ReplyHoldingANumberOutOfRangeIsBadResponse) {
    RpcResult r = read_call_reply(200, R"({"jsonrpc":"2.0","id":1,"result":{"a":[0,1e4002]}})", 1,
                                  "chain 1: eth_call");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kBadResponse);
    EXPECT_EQ(r.error().message,
              "chain 1: eth_call: response holds a number out of range at \"/result/a/1\"");

    auto batch = read_batch_reply(
        200,
        R"([{"jsonrpc":"2.0","id":7,"result":"0x1"},{"jsonrpc":"2.0","id":8,"result":-1e999}])", 7,
        {"chain 1: eth_chainId", "chain 1: eth_blockNumber"}, "chain 1: batch of 2 calls");
    ASSERT_EQ(batch.size(), 2u);
    for (const auto& one : batch) {
        ASSERT_FALSE(one);
        EXPECT_EQ(one.error().code, RpcErrc::kBadResponse);
    }
    EXPECT_EQ(batch[1].error().message,
              "chain 1: eth_blockNumber: response holds a number out of range at \"/1/result\"");
}

TEST(RpcReply, TheResultIsHandedBackAsItCame) {
    RpcResult r = read_call_reply(200, R"({"jsonrpc":"2.0","id":1,"result":{"a":[1,"x",null]}})", 1,
                                  "chain 1: eth_call");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, boost::json::parse(R"({"a":[1,"x",null]})"));
    // A null result is a result; so is one whose id is null or left out.
    r = read_call_reply(200, R"({"jsonrpc":"2.0","id":null,"result":null})", 1, "c");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->is_null());
    EXPECT_TRUE(read_call_reply(200, R"({"result":"0x1"})", 1, "c"));
}

TEST(RpcReply, AJsonRpcErrorNamesTheChainTheMethodAndTheCode) {
    const RpcError e = rpc_reply_error(
        200, R"({"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted",
                 "data":"0x08c379a0"}})");
    EXPECT_EQ(e.code, RpcErrc::kRpcError);
    EXPECT_EQ(e.message, "chain 1: eth_call failed: execution reverted (JSON-RPC error 3)");
    EXPECT_EQ(e.rpc_code, 3);
    EXPECT_EQ(e.rpc_data, boost::json::value("0x08c379a0"));
    EXPECT_EQ(e.http_status, 200);
    // Without data, rpc_data stays null; a negative code is printed as it is.
    const RpcError plain =
        rpc_reply_error(200, R"({"id":1,"error":{"code":-32601,"message":"no such method"}})");
    EXPECT_EQ(plain.message, "chain 1: eth_call failed: no such method (JSON-RPC error -32601)");
    EXPECT_TRUE(plain.rpc_data.is_null());
    // A null error next to a result is no error.
    EXPECT_TRUE(read_call_reply(200, R"({"id":1,"error":null,"result":7})", 1, "c"));
}

TEST(RpcReply, AnErrorObjectWithoutANumericCodeOrAStringMessageIsMalformed) {
    for (const char* body :
         {R"({"id":1,"error":"boom"})", R"({"id":1,"error":{"message":"m"}})",
          R"({"id":1,"error":{"code":"3","message":"m"}})", R"({"id":1,"error":{"code":3}})",
          R"({"id":1,"error":{"code":3,"message":null}})",
          R"({"id":1,"error":{"code":1.5,"message":"m"}})"}) {
        const RpcError e = rpc_reply_error(200, body);
        EXPECT_EQ(e.code, RpcErrc::kBadResponse) << body;
        EXPECT_EQ(e.message, "chain 1: eth_call: response has a malformed JSON-RPC error object")
            << body;
    }
}

TEST(RpcReply, ABodyThatIsNotAJsonRpcReplySaysWhatItIs) {
    EXPECT_EQ(rpc_reply_error(200, "[1,2]").message,
              "chain 1: eth_call: response is not a JSON-RPC reply (not an object)");
    EXPECT_EQ(rpc_reply_error(200, R"({"id":1})").message,
              "chain 1: eth_call: response is not a JSON-RPC reply (neither result nor error)");
    const RpcError not_json = rpc_reply_error(200, "<html>oops</html>");
    EXPECT_EQ(not_json.code, RpcErrc::kBadResponse);
    EXPECT_THAT(not_json.message, StartsWith("chain 1: eth_call: response is not JSON ("));
    EXPECT_THAT(not_json.message, EndsWith("): <html>oops</html>"));
    EXPECT_THAT(rpc_reply_error(200, "").message, EndsWith("): "));
}

TEST(RpcReply, AnAnswerToAnotherIdIsRefused) {
    const RpcError e = rpc_reply_error(200, R"({"jsonrpc":"2.0","id":2,"result":"0x1"})");
    EXPECT_EQ(e.code, RpcErrc::kBadResponse);
    EXPECT_EQ(e.message, "chain 1: eth_call: response id does not match the request id");
    EXPECT_EQ(rpc_reply_error(200, R"({"id":"1","result":"0x1"})").message, e.message);
    // An error carries the server's word even under another id (it may not have read ours).
    EXPECT_EQ(rpc_reply_error(200, R"({"id":2,"error":{"code":-32700,"message":"parse"}})").code,
              RpcErrc::kRpcError);
}

TEST(RpcReply, AnHttpErrorStatusNamesTheServerAndItsExplanation) {
    RpcError e = rpc_reply_error(
        429, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"rate limited"}})");
    EXPECT_EQ(e.code, RpcErrc::kHttpStatus);
    EXPECT_EQ(e.message, "chain 1: eth_call: HTTP 429 from host:1: rate limited");
    EXPECT_EQ(e.http_status, 429);
    EXPECT_EQ(e.rpc_code, -32005);
    // A body that is not JSON is quoted, its control characters as spaces, cut at 200 characters.
    e = rpc_reply_error(502, "bad\ngateway");
    EXPECT_EQ(e.message, "chain 1: eth_call: HTTP 502 from host:1: bad gateway");
    e = rpc_reply_error(503, std::string(300, 'x'));
    EXPECT_EQ(e.message,
              "chain 1: eth_call: HTTP 503 from host:1: " + std::string(200, 'x') + "...");
    EXPECT_EQ(rpc_reply_error(500, "").message, "chain 1: eth_call: HTTP 500 from host:1");
    // JSON without an error message adds nothing; even a result under a 500 is not one.
    EXPECT_EQ(rpc_reply_error(500, R"({"id":1,"result":"0x1"})").message,
              "chain 1: eth_call: HTTP 500 from host:1");
    EXPECT_EQ(rpc_reply_error(301, "").code, RpcErrc::kHttpStatus);
}

TEST(RpcReply, ABatchIsMatchedByIdInRequestOrder) {
    // Answers out of order, one twice (the first counts), one for an id never asked.
    const auto batch = read_batch_reply(
        200,
        R"([{"id":12,"result":"c"},{"id":10,"result":"a"},{"id":10,"result":"again"},
            {"id":13,"result":"stray"},{"id":11,"error":{"code":3,"message":"reverted"}}])",
        10, {"chain 1: a", "chain 1: b", "chain 1: c"}, "chain 1: batch of 3 calls");
    ASSERT_EQ(batch.size(), 3u);
    ASSERT_TRUE(batch[0]);
    EXPECT_EQ(*batch[0], boost::json::value("a"));
    ASSERT_FALSE(batch[1]);
    EXPECT_EQ(batch[1].error().message, "chain 1: b failed: reverted (JSON-RPC error 3)");
    ASSERT_TRUE(batch[2]);
    EXPECT_EQ(*batch[2], boost::json::value("c"));
}

TEST(RpcReply, AWholeBatchFailureIsEveryCallsFailureUnderItsOwnLabel) {
    const std::vector<std::string> labels{"chain 1: a", "chain 1: b"};
    // One error object for the whole batch.
    auto batch = read_batch_reply(200, R"({"id":null,"error":{"code":-32600,"message":"too big"}})",
                                  1, labels, "chain 1: batch of 2 calls");
    ASSERT_EQ(batch.size(), 2u);
    EXPECT_EQ(batch[0].error().message, "chain 1: a failed: too big (JSON-RPC error -32600)");
    EXPECT_EQ(batch[1].error().message, "chain 1: b failed: too big (JSON-RPC error -32600)");
    // An object that is no error, and an HTTP status.
    batch = read_batch_reply(200, R"({"id":1,"result":1})", 1, labels, "chain 1: batch of 2 calls");
    EXPECT_EQ(batch[1].error().code, RpcErrc::kBadResponse);
    EXPECT_EQ(batch[1].error().message, "chain 1: b: batch response is not a JSON array");
    batch = read_batch_reply(503, "down", 1, labels, "chain 1: batch of 2 calls", "host:1");
    EXPECT_EQ(batch[0].error().code, RpcErrc::kHttpStatus);
    EXPECT_EQ(batch[0].error().message, "chain 1: a: HTTP 503 from host:1: down");
    EXPECT_EQ(batch[1].error().message, "chain 1: b: HTTP 503 from host:1: down");
    // No calls, no results, whatever came back.
    EXPECT_TRUE(read_batch_reply(200, "[]", 1, {}, "chain 1: batch of 0 calls").empty());
}

}  // namespace
}  // namespace forkrun::forks
