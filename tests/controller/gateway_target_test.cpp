// Tests for what the rpcUrl gateway's HTTP and WebSocket paths share: the error answers, the
// splice of ours into the fork's batch answer, the policing and pricing of a body's calls, and the
// drain waiters woken once a released target has settled.
#include "controller/gateway_target.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>

#include "forks/cu_table.hpp"
#include "forks/jsonrpc_request.hpp"
#include "forks/rpc_policy.hpp"

namespace forkrun::controller::detail {
namespace {

namespace json = boost::json;

forks::JsonRpcBody gateway_body(std::string_view text) {
    auto parsed = forks::parse_jsonrpc_body(text, forks::JsonRpcLimits{});
    EXPECT_TRUE(parsed) << text;
    return parsed ? std::move(*parsed) : forks::JsonRpcBody{};
}

TEST(GatewayTarget, AnswersAreErrorObjectsOneAfterAnother) {
    Answers answers;
    EXPECT_TRUE(answers.empty());
    EXPECT_EQ(answers.body(true), "[]");
    answers.add(json::value(1), -32601, "no \"such\" method");
    answers.add(json::value("a"), -32600, "bad");
    EXPECT_EQ(answers.count(), 2u);
    const json::value batch = json::parse(answers.body(true));
    ASSERT_TRUE(batch.is_array());
    ASSERT_EQ(batch.as_array().size(), 2u);
    EXPECT_EQ(batch.as_array()[0], json::parse(R"({"jsonrpc":"2.0","id":1,
        "error":{"code":-32601,"message":"no \"such\" method"}})"));
    EXPECT_EQ(batch.as_array()[1].at("id"), "a");
    Answers one;
    one.add(json::value(), -32600, "bad");
    EXPECT_EQ(json::parse(one.body(false)).at("id"), json::value());
}

TEST(GatewayTarget, AnswerAllGivesEveryCallTheSameError) {
    const auto parsed = forks::parse_jsonrpc_body(
        R"([{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"x"}])",
        forks::JsonRpcLimits{});
    const GatewayReply reply = answer_all(410, parsed, -32000, "the fork is gone");
    EXPECT_EQ(reply.status, 410u);
    const json::value body = json::parse(reply.body);
    ASSERT_EQ(body.as_array().size(), 2u);
    EXPECT_EQ(body.as_array()[1].at("id"), json::value(2));
    EXPECT_EQ(body.as_array()[1].at("error").at("message"), "the fork is gone");
    // One call: one object; a body that could not be read: one object with a null id.
    const auto single =
        forks::parse_jsonrpc_body(R"({"jsonrpc":"2.0","id":"q","method":"eth_chainId"})", {});
    EXPECT_EQ(json::parse(answer_all(404, single, -32001, "no such fork").body).at("id"), "q");
    const auto unreadable = forks::parse_jsonrpc_body("{not json", {});
    ASSERT_FALSE(unreadable);
    const json::value whole = json::parse(answer_all(400, unreadable, -32700, "parse error").body);
    EXPECT_TRUE(whole.at("id").is_null());
    EXPECT_EQ(whole.at("error").at("code"), json::value(-32700));
}

TEST(GatewayTarget, OurAnswersAreSplicedIntoTheForksBatchAnswer) {
    Answers ours;
    ours.add(json::value(9), -32601, "refused");
    const std::string mine = ours.text();
    EXPECT_EQ(splice(R"([{"id":1,"result":"0x1"}])", ours),
              R"([{"id":1,"result":"0x1"},)" + mine + "]");
    EXPECT_EQ(splice(" \r\n[ {\"id\":1} ]\n", ours), "[ {\"id\":1} ," + mine + "]");
    // An empty batch answer, an empty body, and a single object from the fork.
    EXPECT_EQ(splice("[]", ours), "[" + mine + "]");
    EXPECT_EQ(splice("[  ]", ours), "[" + mine + "]");
    EXPECT_EQ(splice("", ours), "[" + mine + "]");
    EXPECT_EQ(splice("  \t", ours), "[" + mine + "]");
    EXPECT_EQ(splice(R"({"id":null,"error":{}})", ours),
              R"([{"id":null,"error":{}},)" + mine + "]");
    EXPECT_TRUE(json::parse(splice(R"([{"id":1,"result":[]}])", ours)).is_array());
}

TEST(GatewayTarget, PoliceRefusesInvalidAndUnknownCallsAndPricesTheRest) {
    const auto cu =
        forks::CuTable::parse(R"({"version": "t", "defaultCu": 10, "methods": {"eth_call": 26}})")
            .value();
    GatewayTarget target;
    GatewayCounters counters;
    auto body = gateway_body(R"([
        {"jsonrpc":"2.0","id":1,"method":"eth_call","params":[]},
        {"jsonrpc":"2.0","id":2,"method":"foo_bar"},
        {"jsonrpc":"2.0","method":"foo_quiet"},
        {"jsonrpc":"2.0","id":4},
        {"jsonrpc":"2.0","id":5,"method":"eth_chainId"},
        {"jsonrpc":"2.0","id":6,"method":"anvil_setBalance",
         "params":["0xAbCd000000000000000000000000000000000001","0x1"]},
        {"jsonrpc":"2.0","id":7,"method":"hardhat_setBalance",
         "params":["0xabcd000000000000000000000000000000000001","0x2"]}])");
    const Policed p = police(target, body, cu, counters);
    ASSERT_EQ(p.onward.size(), 4u);
    EXPECT_EQ(p.onward[0]->method, "eth_call");
    EXPECT_EQ(p.onward[1]->method, "eth_chainId");
    EXPECT_EQ(p.cost, 26u + 10u + 10u + 10u);
    // The refused notification is counted but not answered.
    EXPECT_EQ(counters.refused.load(), 2u);
    EXPECT_EQ(counters.invalid.load(), 1u);
    ASSERT_EQ(p.answers.count(), 2u);
    const json::value answers = json::parse(p.answers.body(true));
    EXPECT_EQ(answers.as_array()[0], json::parse(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32601,
        "message":"method foo_bar is refused: it is not in forkrun's method policy"}})"));
    EXPECT_EQ(answers.as_array()[1].at("id"), json::value(4));
    EXPECT_EQ(answers.as_array()[1].at("error").at("code"),
              json::value(forks::kInvalidRequestCode));
    // Both cheat codes set one address, noted once, in lowercase.
    EXPECT_EQ(target.balance_touched,
              (std::set<std::string>{"0xabcd000000000000000000000000000000000001"}));
    EXPECT_FALSE(target.tainted.load());
}

TEST(GatewayTarget, ATaintingMethodTaintsTheFork) {
    const auto cu =
        forks::CuTable::parse(R"({"version": "t", "defaultCu": 1, "methods": {}})").value();
    GatewayTarget target;
    GatewayCounters counters;
    auto body = gateway_body(R"({"jsonrpc":"2.0","id":1,"method":"anvil_impersonateAccount",
        "params":["0x0000000000000000000000000000000000000001"]})");
    const Policed p = police(target, body, cu, counters);
    EXPECT_EQ(p.onward.size(), 1u);
    EXPECT_TRUE(p.answers.empty());
    EXPECT_TRUE(target.tainted.load());
}

TEST(GatewayTarget, DrainWaitersWakeOnceReleasedAndSettled) {
    GatewayTarget target;
    int woken = 0;
    target.in_flight = 2;
    target.sockets = 1;
    target.on_drained.push_back([&] { ++woken; });
    target.settle(1, 0);
    EXPECT_EQ(woken, 0) << "not released yet";
    target.released = true;
    target.settle(1, 0);
    EXPECT_EQ(woken, 0) << "a WebSocket is still open";
    {
        InFlight call(std::shared_ptr<GatewayTarget>(&target, [](GatewayTarget*) {}));
        target.in_flight = 1;  // what the caller counted when it started the call
        target.settle(0, 1);
        EXPECT_EQ(woken, 0) << "a call is still under way";
    }
    EXPECT_EQ(woken, 1) << "the call's end settled the target";
    EXPECT_TRUE(target.on_drained.empty());
    target.settle(0, 0);
    EXPECT_EQ(woken, 1) << "woken once";
    // Charging a target whose run is gone does nothing.
    target.charge(5);
}

}  // namespace
}  // namespace forkrun::controller::detail
