// Resolved props into each node type's struct, and the invalid_props a node fails with when
// templated values do not fit.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <string>

#include "controller/node_props.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;

boost::system::result<NodeProps, ErrorInfo> decode(NodeType type, std::string_view props) {
    return decode_props(type, json::parse(props));
}

std::string problem(NodeType type, std::string_view props) {
    auto r = decode(type, props);
    if (r) {
        return "decoded";
    }
    EXPECT_EQ(r.error().code, RunErrc::kInvalidProps);
    return r.error().message;
}

TEST(NodeProps, EachTypeDecodesIntoItsOwnFields) {
    auto rpc = decode(NodeType::kRpc, R"({"chainId": 1, "method": "eth_call", "params": [1]})");
    ASSERT_TRUE(rpc);
    const auto& r = std::get<RpcProps>(*rpc);
    EXPECT_EQ(r.chain_id, 1u);
    EXPECT_EQ(r.method, "eth_call");
    EXPECT_EQ(r.params, (json::array{1}));

    auto wait = decode(NodeType::kWait, R"({"seconds": 1.5, "blocks": 2, "chainId": 10})");
    ASSERT_TRUE(wait);
    const auto& w = std::get<WaitProps>(*wait);
    EXPECT_EQ(w.time, std::chrono::microseconds(1500000));
    EXPECT_EQ(w.blocks, 2u);
    EXPECT_EQ(w.chain_id, 10u);

    auto check = decode(NodeType::kAssert, R"({"value": "7", "gte": "5"})");
    ASSERT_TRUE(check);
    EXPECT_EQ(std::get<AssertProps>(*check).op, AssertOp::kGte);

    auto call = decode(NodeType::kCall, R"({"chainId": 1, "to": "0x01", "block": 16})");
    ASSERT_TRUE(call);
    EXPECT_EQ(std::get<CallProps>(*call).block, "0x10");
    EXPECT_EQ(std::get<CallProps>(*call).tx, (json::object{{"to", "0x01"}}));

    auto send = decode(NodeType::kSendTransaction,
                       R"({"chainId": 1, "to": "0x00000000000000000000000000000000000000aa",
                           "valueWei": "12", "data": "0x0102", "signer": "ops", "gasLimit": 21000})");
    ASSERT_TRUE(send);
    const auto& t = std::get<TransactionProps>(*send);
    EXPECT_EQ(t.value_wei, eth::Uint256(12));
    EXPECT_EQ(t.data, (std::vector<std::uint8_t>{1, 2}));
    EXPECT_EQ(t.signer, "ops");
    EXPECT_EQ(t.gas_limit, 21000u);

    EXPECT_TRUE(std::holds_alternative<NoProps>(*decode(NodeType::kManual, "{}")));
}

TEST(NodeProps, ValuesThatDoNotFitAreInvalidPropsSayingWhy) {
    EXPECT_EQ(problem(NodeType::kWait, R"({"seconds": -1})"),
              "wait seconds must be between 0 and 86400");
    EXPECT_EQ(problem(NodeType::kWait, R"({"seconds": "1"})"), "wait seconds must be a number");
    EXPECT_EQ(problem(NodeType::kWait, R"({"blocks": 0, "chainId": 1})"),
              "wait blocks needs a positive integer and a chainId");
    EXPECT_EQ(problem(NodeType::kRpc, R"({"chainId": 1})"),
              "rpc needs a positive chainId and a method");
    EXPECT_EQ(problem(NodeType::kRpc, R"({"chainId": 1, "method": "m", "params": {}})"),
              "rpc params must be an array");
    EXPECT_EQ(problem(NodeType::kAssert, R"({"value": 1})"),
              "assert needs one of equals, notEquals, gte, lte");
    EXPECT_EQ(problem(NodeType::kSetBalance, R"({"address": "0x01", "valueWei": "x"})"),
              "valueWei must be a decimal string below 2^256");
    EXPECT_EQ(problem(NodeType::kTransfer, R"({"chainId": 1, "to": "0x01"})"),
              "to must be a 0x-prefixed 20-byte address");
    EXPECT_EQ(problem(NodeType::kSendTransaction,
                      R"({"chainId": 1, "to": "0x00000000000000000000000000000000000000aa",
                          "data": "0xzz"})"),
              "data must be 0x-prefixed hex");
}

}  // namespace
}  // namespace forkrun::controller
