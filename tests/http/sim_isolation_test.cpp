// The trust boundary of an rpcUrl, attacked as its holder would: a pooled fork poisoned by one
// organization's run is never what the next organization's run sees, the fork never contacts an
// address the caller names, refused calls cost nothing, metering cannot be skipped, and the
// gateway answers every failure as JSON-RPC under the caller's ids.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "forks/test_anvil.hpp"
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

using forks::test::TestAnvil;

// A TCP listener on 127.0.0.1 that counts every connection made to it (the SSRF target).
class Listener {
  public:
    Listener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(fd_, 64) != 0) {
            throw std::runtime_error("cannot listen on 127.0.0.1");
        }
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            while (!stop_) {
                pollfd p{fd_, POLLIN, 0};
                if (::poll(&p, 1, 50) > 0) {
                    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
                    if (c >= 0) {
                        ++connections_;
                        ::close(c);
                    }
                }
            }
        });
    }
    ~Listener() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int connections() const { return connections_.load(); }

  private:
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread thread_;
};

json::value result_of(const std::string& url, std::string_view method, json::array params = {}) {
    auto r = rpc(url, method, std::move(params));
    const auto* obj = r.body.if_object();
    const auto* result = obj ? obj->if_contains("result") : nullptr;
    return result ? *result : json::value();
}

// What a run's lease of the fork shows a user: state, settings and behaviour.
struct LeaseView {
    json::object values;
};

LeaseView look_at(const std::string& url) {
    LeaseView v;
    auto& o = v.values;
    o["chainId"] = result_of(url, "eth_chainId");
    o["blockNumber"] = result_of(url, "eth_blockNumber");
    o["head"] = result_of(url, "eth_getBlockByNumber", json::array{"latest", false}).at("hash");
    o["balanceX"] = result_of(url, "eth_getBalance", json::array{kAddrX, "latest"});
    o["codeX"] = result_of(url, "eth_getCode", json::array{kAddrX, "latest"});
    o["nonceDev0"] = result_of(url, "eth_getTransactionCount", json::array{kDev0, "latest"});
    o["automine"] = result_of(url, "anvil_getAutomine");
    o["intervalMining"] = result_of(url, "anvil_getIntervalMining");
    o["coinbase"] = result_of(url, "eth_coinbase");
    o["gasPrice"] = result_of(url, "eth_gasPrice");
    o["txpool"] = result_of(url, "txpool_status");
    // Impersonation: a transaction from an account nobody holds must be refused.
    auto from_y =
        rpc(url, "eth_sendTransaction",
            json::array{json::object{{"from", kAddrY}, {"to", kAddrX}, {"value", "0x1"}}});
    o["impersonatedY"] = error_code(from_y.body) == 0;
    return v;
}

class PoolIsolation : public ::testing::Test {
  protected:
    void SetUp() override {
        // Forks of an upstream, as in production: a replacement fork starts from the same block.
        server_ = start_server_with_config(
            json::object{
                {"chains", json::object{{"31337", json::object{{"upstreamRpcUrl", upstream_.url()},
                                                               {"poolSize", 1}}}}}},
            dir_);
        api_ = std::make_unique<Api>(server_->base_url());
        // What a clean lease of the one pooled fork shows, seen by organization B.
        const auto [id, url] = lease(kTokenBRw);
        clean_ = look_at(url);
        ASSERT_EQ(api_->cancel(id, kTokenBRw).status, 200);
    }

    // Starts a pool run of `token`'s organization; its id and rpcUrl.
    std::pair<std::string, std::string> lease(const std::string& token) {
        const auto created = api_->create_ok(sim_request("pool", {31337}, hold_nodes()), token);
        const std::string id = str_at(created, "id");
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        for (;;) {
            auto run = data_of(api_->run(id, token));
            if (run.at("simulationForks").as_array().size() == 1 ||
                std::chrono::steady_clock::now() >= deadline) {
                return {id, rpc_url_of(run, 31337)};
            }
            std::this_thread::sleep_for(10ms);  // polling a condition against a deadline
        }
    }

    // Org A runs `attack` through its rpcUrl and cancels; org B's next lease must see the clean
    // fork. Returns A's teardown record.
    // `after_cancel` runs once A's cancel has answered, before B leases.
    json::value attack_then_check(const std::function<void(const std::string&)>& attack,
                                  const std::function<void()>& after_cancel = {}) {
        const auto [a, url] = lease(kTokenARw);
        attack(url);
        auto cancelled = api_->cancel(a, kTokenARw);
        EXPECT_EQ(cancelled.status, 200) << cancelled.body;
        if (after_cancel) {
            after_cancel();
        }
        const auto teardown = value_at(data_of(cancelled), "/executionState/cancellation/forks/0");
        const auto [b, url_b] = lease(kTokenBRw);
        const auto seen = look_at(url_b);
        for (const auto& [key, want] : clean_.values) {
            EXPECT_EQ(seen.values.at(key), want) << "org B's lease sees a changed " << key;
        }
        EXPECT_EQ(api_->cancel(b, kTokenBRw).status, 200);
        return teardown;
    }

    TestAnvil upstream_{31337};
    TempDir dir_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<Api> api_;
    LeaseView clean_;
};

TEST_F(PoolIsolation, NodeSettingsChangedThroughTheRpcUrlNeverReachTheNextLease) {
    const std::vector<std::pair<std::string, json::array>> settings = {
        {"anvil_setChainId", {999}},
        {"evm_setAutomine", {false}},
        {"anvil_autoImpersonateAccount", {true}},
        {"anvil_impersonateAccount", {kAddrY}},
        {"anvil_setIntervalMining", {5}},
        {"anvil_setBlockTimestampInterval", {100}},
        {"anvil_setCoinbase", {kAddrY}},
        {"anvil_setNextBlockBaseFeePerGas", {"0x1"}},
        {"hardhat_setCoinbase", {kAddrX}},
    };
    for (const auto& [method, params] : settings) {
        SCOPED_TRACE(method);
        const auto teardown = attack_then_check([&](const std::string& url) {
            auto r = rpc(url, method, params);
            EXPECT_EQ(r.status, 200) << json::serialize(r.body);
            EXPECT_EQ(error_code(r.body), 0) << json::serialize(r.body);
            rpc(url, "anvil_setBalance", json::array{kAddrX, "0x7a69"});
        });
        // A tainted lease is destroyed and replaced, and says so.
        EXPECT_EQ(str(teardown.at("method")), "destroy") << json::serialize(teardown);
        EXPECT_TRUE(teardown.at("ok").as_bool()) << json::serialize(teardown);
    }
}

TEST_F(PoolIsolation, ResetToAnUpstreamOfTheCallersChoiceIsRefusedAndReachesNobody) {
    Listener fake_upstream;
    const auto teardown = attack_then_check([&](const std::string& url) {
        const json::array params{json::object{
            {"forking", json::object{{"jsonRpcUrl", fake_upstream.url()}, {"blockNumber", 1}}}}};
        for (auto method : {"anvil_reset", "hardhat_reset"}) {
            auto r = rpc(url, method, params);
            EXPECT_EQ(error_code(r.body), -32601) << json::serialize(r.body);
            EXPECT_NE(json::serialize(r.body).find(method), std::string::npos);
        }
        auto set_url = rpc(url, "anvil_setRpcUrl", json::array{fake_upstream.url()});
        EXPECT_EQ(error_code(set_url.body), -32601) << json::serialize(set_url.body);
        // A plain reset and fresh snapshots re-create the lease's snapshot id: tainted.
        EXPECT_EQ(error_code(rpc(url, "anvil_reset").body), 0);
        for (int i = 0; i < 3; ++i) {
            rpc(url, "evm_snapshot");
        }
        rpc(url, "anvil_setBalance", json::array{kAddrX, "0x1"});
    });
    EXPECT_EQ(str(teardown.at("method")), "destroy") << json::serialize(teardown);
    EXPECT_EQ(fake_upstream.connections(), 0);
}

TEST_F(PoolIsolation, StateAndBaseFeeAreRestoredSoAnUntaintedForkIsReused) {
    const auto teardown = attack_then_check([&](const std::string& url) {
        rpc(url, "anvil_setBalance", json::array{kAddrX, "0x1234"});
        rpc(url, "anvil_setCode", json::array{kAddrX, "0x6000"});
        // Mined transactions move the next base fee, which evm_revert leaves behind.
        for (int i = 0; i < 3; ++i) {
            auto r =
                rpc(url, "eth_sendTransaction",
                    json::array{json::object{{"from", kDev0}, {"to", kAddrY}, {"value", "0x1"}}});
            EXPECT_EQ(error_code(r.body), 0) << json::serialize(r.body);
        }
        rpc(url, "anvil_mine", json::array{"0x20"});
        // A transaction with a future nonce waits in the pool across the revert.
        auto queued =
            rpc(url, "eth_sendTransaction",
                json::array{json::object{
                    {"from", kDev0}, {"to", kAddrY}, {"value", "0x1"}, {"nonce", "0x9"}}});
        EXPECT_EQ(error_code(queued.body), 0) << json::serialize(queued.body);
    });
    EXPECT_EQ(str(teardown.at("method")), "evm_revert") << json::serialize(teardown);
    EXPECT_TRUE(teardown.at("ok").as_bool()) << json::serialize(teardown);
}

TEST_F(PoolIsolation, WritesRacingTheReleaseNeverLandAfterTheRevert) {
    for (int trial = 0; trial < 4; ++trial) {
        SCOPED_TRACE("trial " + std::to_string(trial));
        std::atomic<int> landed{0};
        std::vector<std::thread> writers;
        attack_then_check(
            [&](const std::string& url) {
                const auto deadline = std::chrono::steady_clock::now() + 30s;
                for (int w = 0; w < 24; ++w) {
                    writers.emplace_back([&, url, w, deadline] {
                        // Until the lease ends (410), at full speed.
                        while (std::chrono::steady_clock::now() < deadline) {
                            auto r = rpc(url, "anvil_setBalance",
                                         json::array{kAddrX, "0x" + std::to_string(1000 + w)});
                            if (r.status != 200) {
                                return;
                            }
                            ++landed;
                        }
                    });
                }
                // The cancel comes while every writer is busy.
                while (landed.load() < 48 && std::chrono::steady_clock::now() < deadline) {
                    std::this_thread::yield();
                }
            },
            [&] {
                for (auto& t : writers) {
                    t.join();
                }
            });
        EXPECT_GE(landed.load(), 48);
    }
}

TEST(GatewayPolicy, RefusedCallsCostNothingAndDeepBatchesAreChargedInFull) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
    Api api(server->base_url());
    auto fork_cu = [&](const std::function<void(const std::string&)>& calls) {
        const std::string id =
            str_at(api.create_ok(sim_request("pool", {31337}, hold_nodes())), "id");
        const auto run = wait_forks_ready(api, id, 1);
        calls(rpc_url_of(run, 31337));
        auto c = api.cancel(id);
        EXPECT_EQ(c.status, 200) << c.body;
        EXPECT_EQ(total_cu(data_of(c)), parts_cu(data_of(c)));
        return total_cu(data_of(c));
    };
    const auto base = fork_cu([](const std::string&) {});
    const auto refused = fork_cu([](const std::string& url) {
        for (int i = 0; i < 5; ++i) {
            EXPECT_EQ(error_code(rpc(url, "anvil_nodeInfo").body), -32601);
            EXPECT_EQ(error_code(rpc(url, "admin_peers").body), -32601);
        }
    });
    EXPECT_EQ(refused, base) << "refused calls must cost 0 CU";

    // One element nested 40 levels deep: parsed, charged and forwarded like any other.
    std::string deep = "[";
    for (int i = 0; i < 3; ++i) {
        deep += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
                R"(,"method":"eth_blockNumber","params":)" + std::string(40, '[') +
                std::string(40, ']') + "}";
    }
    deep += "]";
    const auto charged = fork_cu([&](const std::string& url) {
        auto r = post_raw(url, deep);
        EXPECT_EQ(r.status, 200) << r.body;
        ASSERT_TRUE(r.json && r.json->is_array()) << r.body;
        EXPECT_EQ(r.json->as_array().size(), 3u) << r.body;
    });
    EXPECT_EQ(charged, base + 3 * 10) << "each eth_blockNumber costs 10 CU, however deep";

    // Deeper than the gateway reads: refused whole, forwarded nowhere, free.
    const auto too_deep = fork_cu([&](const std::string& url) {
        auto r = post_raw(url, R"([{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":)" +
                                   std::string(100, '[') + std::string(100, ']') + "}]");
        ASSERT_TRUE(r.json) << r.body;
        EXPECT_EQ(error_code(*r.json), -32700) << r.body;
    });
    EXPECT_EQ(too_deep, base);
}

TEST(GatewayPolicy, ErrorsAreJsonRpcUnderTheCallersIds) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
    Api api(server->base_url());
    const std::string id = str_at(api.create_ok(sim_request("pool", {31337}, hold_nodes())), "id");
    const auto url = rpc_url_of(wait_forks_ready(api, id, 1), 31337);

    auto not_json = post_raw(url, "{nope");
    ASSERT_TRUE(not_json.json) << not_json.body;
    EXPECT_EQ(error_code(*not_json.json), -32700);
    EXPECT_TRUE(not_json.json->at("id").is_null());

    auto invalid = post_raw(url, R"({"id":5,"method":"eth_chainId"})");  // no "jsonrpc"
    ASSERT_TRUE(invalid.json) << invalid.body;
    EXPECT_EQ(error_code(*invalid.json), -32600);
    EXPECT_EQ(invalid.json->at("id"), 5);

    // A mixed batch: each call answered under its own id, the refused one with -32601.
    auto mixed = post_raw(url, R"([{"jsonrpc":"2.0","id":"a","method":"eth_chainId"},
        {"jsonrpc":"2.0","id":"b","method":"anvil_metadata"},
        {"jsonrpc":"2.0","id":"c","method":"eth_blockNumber"}, 7])");
    ASSERT_TRUE(mixed.json && mixed.json->is_array()) << mixed.body;
    std::map<std::string, std::int64_t> codes;
    for (const auto& e : mixed.json->as_array()) {
        codes[e.at("id").is_string() ? str(e.at("id")) : "null"] = error_code(e);
    }
    EXPECT_EQ(codes, (std::map<std::string, std::int64_t>{
                         {"a", 0}, {"b", -32601}, {"c", 0}, {"null", -32600}}))
        << mixed.body;

    std::string big = "[";
    for (int i = 0; i < 1001; ++i) {
        big += std::string(i ? "," : "") + R"({"jsonrpc":"2.0","id":)" + std::to_string(i) +
               R"(,"method":"eth_chainId"})";
    }
    auto over = post_raw(url, big + "]");
    EXPECT_EQ(over.status, 413);
    ASSERT_TRUE(over.json && over.json->is_array()) << over.body.substr(0, 200);
    EXPECT_EQ(over.json->as_array().size(), 1001u);
    EXPECT_EQ(over.json->as_array()[1000].at("id"), 1000);

    // A body over the server's limit (1 MiB) is refused before it is read, still as JSON-RPC.
    auto huge = post_raw(url, R"({"jsonrpc":"2.0","id":1,"method":"eth_call","params":[")" +
                                  std::string(1100000, 'a') + R"("]})");
    EXPECT_EQ(huge.status, 413);
    ASSERT_TRUE(huge.json) << huge.body.substr(0, 200);
    EXPECT_EQ(error_code(*huge.json), -32005) << huge.body;

    const auto secret_at = url.rfind('/');
    auto unknown = post_raw(url.substr(0, secret_at + 1) + "nosuchsecret",
                            R"({"jsonrpc":"2.0","id":"q","method":"eth_chainId"})");
    EXPECT_EQ(unknown.status, 404);
    ASSERT_TRUE(unknown.json) << unknown.body;
    EXPECT_EQ(unknown.json->at("id"), "q");

    ASSERT_EQ(api.cancel(id).status, 200);
    auto gone = post_raw(url, R"([{"jsonrpc":"2.0","id":9,"method":"eth_chainId"}])");
    EXPECT_EQ(gone.status, 410);
    ASSERT_TRUE(gone.json && gone.json->is_array()) << gone.body;
    EXPECT_EQ(gone.json->as_array()[0].at("id"), 9);
}

TEST(GatewayPolicy, RpcNodesFollowThePolicyAndALiveRunNeverChangesTheUpstream) {
    TestAnvil upstream(1);
    Listener target;
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"1", json::object{{"upstreamRpcUrl", upstream.url()},
                                                                {"poolSize", 0}}}}}},
        dir);
    Api api(server->base_url());
    auto one_rpc = [](json::value method, json::array params) {
        return json::object{
            {"root", root({"call"})},
            {"call", node("rpc", {},
                          json::object{{"chainId", 1}, {"method", method}, {"params", params}})}};
    };
    // A simulation's rpc node: the SSRF route is refused like the gateway refuses it.
    auto sim = sim_request("fork", {1}, one_rpc("anvil_setRpcUrl", json::array{target.url()}));
    auto run = api.wait_terminal(str_at(api.create_ok(sim), "id"), 30s);
    EXPECT_EQ(str_at(run, "status"), "failure");
    const auto err = value_at(run, "/executionState/nodes/call/error");
    EXPECT_EQ(str(err.at("code")), "method_refused") << json::serialize(err);
    EXPECT_EQ(value_at(run, "/executionState/nodes/call/cu"), 0);

    // A live run: cheat codes never reach the shared upstream.
    for (auto method : {"anvil_setBalance", "anvil_setChainId", "evm_setAutomine"}) {
        SCOPED_TRACE(method);
        json::array params =
            std::string_view(method) == "anvil_setBalance"
                ? json::array{kAddrX, "0x99"}
                : (std::string_view(method) == "anvil_setChainId" ? json::array{5}
                                                                  : json::array{false});
        auto body = run_request(unique_workflow_id("live"), one_rpc(method, params));
        auto live = api.wait_terminal(str_at(api.create_ok(body), "id"), 30s);
        EXPECT_EQ(str_at(live, "status"), "failure") << json::serialize(live);
        EXPECT_EQ(str(value_at(live, "/executionState/nodes/call/error/code")), "method_refused");
    }
    EXPECT_EQ(rpc_result(upstream.url(), "eth_getBalance", json::array{kAddrX, "latest"}), "0x0");
    EXPECT_EQ(rpc_result(upstream.url(), "eth_chainId"), "0x1");
    EXPECT_EQ(result_of(upstream.url(), "anvil_getAutomine"), true);
    EXPECT_EQ(target.connections(), 0);
}

TEST(GatewayPolicy, AnUpstreamThatFailsIsNeverNamedToTheClient) {
    // An "upstream" that accepts and hangs up: the fork cannot start, and anvil's error names the
    // URL it tried, which in production carries a provider's API key.
    Listener upstream;
    const std::string key_url = upstream.url() + "/v2/PROVIDERKEY";
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"1", json::object{{"upstreamRpcUrl", key_url},
                                                                {"poolSize", 0}}}}}},
        dir);
    Api api(server->base_url());
    auto body = sim_request("fork", {1}, hold_nodes());
    auto run = api.wait_terminal(str_at(api.create_ok(body), "id"), 60s);
    EXPECT_EQ(str_at(run, "status"), "failure");
    const auto text = json::serialize(run);
    EXPECT_EQ(text.find("PROVIDERKEY"), std::string::npos) << text;
    EXPECT_EQ(text.find(upstream.url()), std::string::npos) << text;
    EXPECT_EQ(server->stderr_text().find("PROVIDERKEY"), std::string::npos);
}

}  // namespace
}  // namespace forkrun::http::test
