// A WebSocket rpcUrl's JSON-RPC without the socket: the client's ids come back on the fork's
// answers whatever order they come in, refused and invalid calls are answered at once and cost
// nothing, batches are spliced, notifications are tracked but never answered, subscriptions pass
// through, and a release waits for what is in flight or knows it was cut.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "controller/rpc_gateway.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kTable = R"({"version": "t", "defaultCu": 10,
    "methods": {"eth_chainId": 0, "eth_blockNumber": 10, "eth_getBalance": 20}})";

class WsRelayTest : public ::testing::Test {
  protected:
    WsRelayTest() : cu_(forks::CuTable::parse(kTable).value()), gw_(rpc_, cu_) {
        gw_.set_base_url("http://127.0.0.1:1");
        controller::Run run;
        run.id = "run_1";
        run.forks.push_back(ForkInfo{"fork_1", 31337, "", ForkState::kReady, 0, std::nullopt,
                                     std::nullopt, std::nullopt, std::nullopt, std::nullopt});
        record_ = std::make_shared<RunRecord>(std::move(run), 1);
        url_ = gw_.open(record_, "fork_1", 31337, "http://127.0.0.1:2",
                        "http://upstream.example:8545");
    }

    std::unique_ptr<WsRelay> attach() {
        auto a =
            gw_.attach(url_.substr(url_.rfind('/') + 1),
                       [this](std::chrono::milliseconds within) { releases_.push_back(within); });
        EXPECT_EQ(a.status, 101u) << a.body;
        return std::move(a.relay);
    }

    std::uint64_t fork_cu() const {
        return record_->read([](const controller::Run& r) { return r.forks.front().cu; });
    }

    // The fork's answer to `sent` (one object or a batch): `result` under each id it was sent.
    static std::string answer_to(const std::string& sent, const json::value& result) {
        auto one = [&](const json::value& call) {
            return json::value{{"jsonrpc", "2.0"}, {"id", call.at("id")}, {"result", result}};
        };
        const auto v = json::parse(sent);
        if (!v.is_array()) {
            return json::serialize(one(v));
        }
        json::array out;
        for (const auto& c : v.as_array()) {
            out.push_back(one(c));
        }
        return json::serialize(out);
    }

    GatewayClose drain(std::chrono::milliseconds within) {
        asio::io_context ioc;
        auto f = asio::co_spawn(ioc, gw_.close_and_drain(url_, within), asio::use_future);
        ioc.run();
        return f.get();
    }

    forks::RpcClient rpc_;
    forks::CuTable cu_;
    RpcGateway gw_;
    std::shared_ptr<RunRecord> record_;
    std::string url_;
    std::vector<std::chrono::milliseconds> releases_;
};

TEST_F(WsRelayTest, AnswersComeBackUnderTheClientsIdsInWhateverOrderTheForkAnswers) {
    auto relay = attach();
    const auto a =
        relay->from_client(R"({"jsonrpc":"2.0","id":"same","method":"eth_blockNumber"})");
    const auto b = relay->from_client(R"({"jsonrpc":"2.0","id":"same","method":"eth_chainId"})");
    ASSERT_FALSE(a.to_fork.empty());
    EXPECT_TRUE(a.to_client.empty());
    EXPECT_NE(json::parse(a.to_fork).at("id"), json::parse(b.to_fork).at("id"))
        << "two calls with one client id are two calls to the fork";
    EXPECT_EQ(relay->pending(), 2u);

    const auto second = relay->from_fork(answer_to(b.to_fork, "0x7a69"));
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(json::parse(second[0]),
              json::parse(R"({"jsonrpc":"2.0","id":"same","result":"0x7a69"})"));
    const auto first = relay->from_fork(answer_to(a.to_fork, "0x5"));
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(json::parse(first[0]).at("result"), "0x5");
    EXPECT_EQ(relay->pending(), 0u);
    EXPECT_TRUE(relay->from_fork(answer_to(a.to_fork, "0x5")).empty()) << "answered twice";
    EXPECT_EQ(fork_cu(), 10u);
    EXPECT_EQ(gw_.counts().forwarded, 2u);
}

TEST_F(WsRelayTest, RefusedAndInvalidCallsAreAnsweredAtOnceAndABatchGetsOneSplicedAnswer) {
    auto relay = attach();
    const auto refused =
        relay->from_client(R"({"jsonrpc":"2.0","id":7,"method":"anvil_nodeInfo"})");
    EXPECT_TRUE(refused.to_fork.empty());
    const auto err = json::parse(refused.to_client);
    EXPECT_EQ(err.at("id"), 7);
    EXPECT_EQ(err.at("error").at("code"), -32601);
    EXPECT_TRUE(relay->from_client("{nope").to_client.find("-32700") != std::string::npos);

    const auto batch = relay->from_client(R"([{"jsonrpc":"2.0","id":1,"method":"eth_getBalance"},
        {"jsonrpc":"2.0","id":2,"method":"anvil_setRpcUrl","params":["http://x"]},
        {"jsonrpc":"2.0","method":"eth_blockNumber"},
        {"jsonrpc":"1.0","id":3,"method":"eth_chainId"}])");
    EXPECT_TRUE(batch.to_client.empty()) << "our answers wait for the fork's";
    ASSERT_EQ(json::parse(batch.to_fork).as_array().size(), 2u) << batch.to_fork;
    const auto out = relay->from_fork(answer_to(batch.to_fork, "0x1"));
    ASSERT_EQ(out.size(), 1u);
    std::map<std::int64_t, std::string> by_id;
    const auto answered = json::parse(out[0]);
    for (const auto& e : answered.as_array()) {
        by_id[e.at("id").as_int64()] = json::serialize(e);
    }
    ASSERT_EQ(by_id.size(), 3u) << out[0] << " (the notification is never answered)";
    EXPECT_NE(by_id[1].find("\"result\":\"0x1\""), std::string::npos);
    EXPECT_NE(by_id[2].find("-32601"), std::string::npos);
    EXPECT_NE(by_id[3].find("-32600"), std::string::npos);
    EXPECT_EQ(fork_cu(), 30u) << "eth_getBalance and the notification's eth_blockNumber";
    EXPECT_EQ(gw_.counts().refused, 2u);
}

TEST_F(WsRelayTest, NotificationsAreForwardedUnderAnIdAndTheirAnswerDropped) {
    auto relay = attach();
    const auto n = relay->from_client(R"({"jsonrpc":"2.0","method":"evm_mine"})");
    ASSERT_TRUE(json::parse(n.to_fork).as_object().contains("id"));
    EXPECT_EQ(relay->pending(), 1u) << "tracked until the fork has answered";
    EXPECT_TRUE(relay->from_fork(answer_to(n.to_fork, "0x0")).empty());
    EXPECT_EQ(relay->pending(), 0u);
}

TEST_F(WsRelayTest, SubscriptionNotificationsPassThroughRedactedAndCostWhatTheTableSays) {
    auto relay = attach();
    const std::string note =
        R"({"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1",)"
        R"("result":{"error":"upstream http://upstream.example:8545 unreachable"}}})";
    const auto out = relay->from_fork(note);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].find("upstream.example"), std::string::npos) << out[0];
    EXPECT_EQ(fork_cu(), 0u) << "the table lists no eth_subscription";
    EXPECT_EQ(gw_.counts().notifications, 1u);
}

TEST_F(WsRelayTest, TaintingMethodsTaintTheLease) {
    auto relay = attach();
    relay->from_client(R"({"jsonrpc":"2.0","id":1,"method":"evm_setAutomine","params":[false]})");
    relay->close();
    EXPECT_TRUE(drain(100ms).tainted);
}

TEST_F(WsRelayTest, TheReleaseWaitsForTheSocketAndAnswersNothingMoreAfterIt) {
    auto relay = attach();
    const auto a = relay->from_client(R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"})");
    asio::io_context ioc;
    auto closing = asio::co_spawn(ioc, gw_.close_and_drain(url_, 5s), asio::use_future);
    ioc.run_one();  // the drain has begun: the socket was told
    ASSERT_EQ(releases_.size(), 1u);
    EXPECT_EQ(releases_[0], 5s);
    const auto late = relay->from_client(R"({"jsonrpc":"2.0","id":2,"method":"eth_chainId"})");
    EXPECT_TRUE(late.to_fork.empty());
    EXPECT_NE(late.to_client.find("-32002"), std::string::npos) << late.to_client;
    relay->from_fork(answer_to(a.to_fork, "0x0"));
    relay->close();
    ioc.run();
    const auto closed = closing.get();
    EXPECT_TRUE(closed.drained);
    EXPECT_FALSE(closed.tainted);
    EXPECT_EQ(gw_.attach(url_.substr(url_.rfind('/') + 1), {}).status, 410u);
}

TEST_F(WsRelayTest, ASocketThatLetsGoWithCallsInFlightMakesTheForkUnreusable) {
    auto relay = attach();
    relay->from_client(R"({"jsonrpc":"2.0","id":1,"method":"anvil_setBalance"})");
    relay->close();  // the answer never came: the call may still land
    EXPECT_FALSE(drain(100ms).drained);
}

TEST_F(WsRelayTest, BalanceCheatsAreNotedOncePerAddressForTheReport) {
    // A client that repeats one address hundreds of times, in any case, takes one place: it
    // neither crowds out a later address nor costs the report a read per repeat.
    auto relay = attach();
    const std::string a = "0x00000000000000000000000000000000000000aA";
    const std::string b = "0x00000000000000000000000000000000000000bb";
    json::array batch;
    for (int i = 0; i < 900; ++i) {  // a batch holds at most 1000
        const std::string address = i % 2 ? a : "0x00000000000000000000000000000000000000AA";
        batch.push_back(json::value{{"jsonrpc", "2.0"},
                                    {"id", i},
                                    {"method", "anvil_setBalance"},
                                    {"params", json::array{address.c_str(), "0x1"}}});
    }
    batch.push_back(json::value{{"jsonrpc", "2.0"},
                                {"id", 900},
                                {"method", "hardhat_setBalance"},
                                {"params", json::array{b.c_str(), "0x1"}}});
    relay->from_client(json::serialize(batch));
    EXPECT_EQ(gw_.balance_touched(url_),
              (std::vector<std::string>{"0x00000000000000000000000000000000000000aa", b}));
}

TEST_F(WsRelayTest, AnOpenSocketThatNeverClosesTimesTheDrainOut) {
    auto relay = attach();
    EXPECT_FALSE(drain(50ms).drained);
    EXPECT_EQ(gw_.counts().sockets, 1u);
    relay.reset();
    EXPECT_EQ(gw_.counts().sockets, 0u);
}

TEST_F(WsRelayTest, UnknownSecretsAreRefused) {
    const auto a = gw_.attach("nosuchsecret", {});
    EXPECT_EQ(a.status, 404u);
    EXPECT_EQ(json::parse(a.body).at("error").at("code"), -32001);
    EXPECT_EQ(a.relay, nullptr);
}

}  // namespace
}  // namespace forkrun::controller
