// WebSocket rpcUrls against a real server and real anvil: ethers and viem follow newHeads through
// a simulation's ws:// rpcUrl and see it closed with the release's reason, CU charged over a
// socket is the cost table's, refused methods get the policy's error, unknown and released
// secrets refuse the upgrade as HTTP does, and a pooled fork's next lease starts clean.
#include <cstdio>
#include <set>
#include <sstream>

#include "forks/cu_table.hpp"
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"
#include "http/ws_client.hpp"

namespace forkrun::http::test {
namespace {

// The value of a metric without labels in /metrics, or -1.
std::int64_t metric(const ServerProcess& server, const std::string& name) {
    const auto r = HttpClient(server.base_url()).send(make_request("GET", "/metrics"));
    const auto at = r.body.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoll(r.body.substr(at + name.size() + 2));
}

class WsGateway : public ::testing::Test {
  protected:
    void SetUp() override {
        server_ = start_server_with_config(
            json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir_);
        api_ = std::make_unique<Api>(server_->base_url());
    }

    // Starts a pool run holding the one pooled fork; its id and rpcUrl.
    std::pair<std::string, std::string> lease() {
        const auto created = api_->create_ok(sim_request("pool", {31337}, hold_nodes(120)));
        const std::string id = str_at(created, "id");
        return {id, rpc_url_of(wait_forks_ready(*api_, id, 1), 31337)};
    }

    std::uint64_t fork_cu(const std::string& id) {
        const auto run = data_of(api_->run(id));
        for (const auto& [fork_id, f] : run.at("executionState").at("forks").as_object()) {
            return f.at("cu").to_number<std::uint64_t>();
        }
        return 0;
    }

    // Runs tests/http/ws_clients.mjs with `library`; what it printed, parsed.
    json::object run_library(const std::string& library) {
        const auto [id, url] = lease();
        const std::string cmd = std::string("node ") + FORKRUN_SOURCE_DIR +
                                "/tests/http/ws_clients.mjs " + library + " " + ws_url(url) + " " +
                                server_->base_url() + "/v1/runs/" + id + "/cancel " + kTokenARw +
                                " 2>&1";
        std::string out;
        if (FILE* p = ::popen(cmd.c_str(), "r")) {
            char buf[4096];
            while (const auto n = std::fread(buf, 1, sizeof buf, p)) {
                out.append(buf, n);
            }
            EXPECT_EQ(::pclose(p), 0) << out;
        }
        std::string line;  // the last one that is a JSON object
        std::istringstream lines(out);
        for (std::string l; std::getline(lines, l);) {
            if (l.starts_with("{")) {
                line = l;
            }
        }
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        EXPECT_FALSE(ec) << out;
        return v.is_object() ? v.as_object() : json::object{};
    }

    TempDir dir_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<Api> api_;
};

TEST_F(WsGateway, EthersAndViemFollowNewHeadsAndSeeTheSocketClosedWhenTheRunIsCancelled) {
    for (const std::string library : {"ethers", "viem"}) {
        SCOPED_TRACE(library);
        const auto seen = run_library(library);
        ASSERT_FALSE(seen.contains("error")) << json::serialize(seen);
        EXPECT_EQ(seen.at("chainId"), 31337);
        EXPECT_EQ(seen.at("blockNumber"), 0) << "each lease starts from the pool's clean fork";
        // A head the socket mined (the library may subscribe after the first block).
        EXPECT_GE(seen.at("head").to_number<std::int64_t>(), 1);
        EXPECT_LE(seen.at("head").to_number<std::int64_t>(),
                  seen.at("mined").to_number<std::int64_t>());
        EXPECT_EQ(seen.at("refusedCode"), -32601);
        EXPECT_NE(str(seen.at("refusedMessage")).find("anvil_nodeInfo"), std::string::npos);
        EXPECT_GE(seen.at("blockNumberAfter").to_number<std::int64_t>(), 1);
        EXPECT_EQ(seen.at("cancelStatus"), 200);
        EXPECT_EQ(seen.at("closeCode"), 4000);
        EXPECT_EQ(str(seen.at("closeReason")), "fork released");
    }
}

TEST_F(WsGateway, CuChargedOverASocketIsTheCostTableAndRefusedCallsCostNothing) {
    const auto table = forks::CuTable::load_file(std::string(FORKRUN_SOURCE_DIR) +
                                                 "/fixtures/cu/alchemy-2026-11.json");
    ASSERT_TRUE(table);
    const auto [id, url] = lease();
    const auto before = fork_cu(id);
    const auto refused_before =
        metric(*server_, "forkrun_gateway_calls_total{outcome=\"refused\"}");
    WsClient ws(ws_url(url));
    ASSERT_TRUE(ws.open()) << ws.refused_status << " " << ws.refused_body;

    std::uint64_t expected = 0;
    auto call = [&](std::string_view method, json::array params = {}) {
        expected += table->cost(method);
        return ws.call(method, std::move(params));
    };
    EXPECT_EQ(call("eth_chainId").at("result"), "0x7a69");
    EXPECT_EQ(call("eth_blockNumber").at("result"), "0x0");
    call("eth_getBalance", json::array{kAddrX, "latest"});
    const auto sub = call("eth_subscribe", json::array{"newHeads"}).at("result");
    ASSERT_TRUE(sub.is_string());
    call("evm_mine");
    const auto head = ws.notification();
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->at("params").at("subscription"), sub);
    EXPECT_EQ(head->at("params").at("result").at("number"), "0x1");
    EXPECT_EQ(call("eth_unsubscribe", json::array{sub}).at("result"), true);

    // Refused: the policy's error, nothing charged, counted; the fork still answers.
    const auto refused = ws.call("anvil_setRpcUrl", json::array{"http://127.0.0.1:9"});
    EXPECT_EQ(error_code(refused), -32601) << json::serialize(refused);
    EXPECT_NE(str(refused.at("error").at("message")).find("anvil_setRpcUrl"), std::string::npos);
    EXPECT_EQ(call("eth_blockNumber").at("result"), "0x1");

    // A batch costs each of its calls.
    ws.send(R"([{"jsonrpc":"2.0","id":"a","method":"eth_blockNumber"},)"
            R"({"jsonrpc":"2.0","id":"b","method":"eth_gasPrice"}])");
    expected += table->cost("eth_blockNumber") + table->cost("eth_gasPrice");
    const auto batch = json::parse(ws.next().value_or("null"));
    ASSERT_TRUE(batch.is_array()) << json::serialize(batch);
    EXPECT_EQ(batch.as_array().size(), 2u);

    EXPECT_EQ(fork_cu(id) - before, expected);
    EXPECT_EQ(metric(*server_, "forkrun_gateway_calls_total{outcome=\"refused\"}"),
              refused_before + 1);
    EXPECT_EQ(metric(*server_, "forkrun_gateway_notifications_total"), 1);
    EXPECT_EQ(metric(*server_, "forkrun_gateway_websockets"), 1);

    const auto cancelled = api_->cancel(id);
    ASSERT_EQ(cancelled.status, 200);
    ws.until_closed();
    EXPECT_EQ(ws.close_code(), 4000);
    const auto run = data_of(api_->run(id));
    EXPECT_EQ(total_cu(run), parts_cu(run));
    EXPECT_EQ(str(value_at(run, "/executionState/cancellation/forks/0/method")), "evm_revert");
    EXPECT_TRUE(eventually([&] { return metric(*server_, "forkrun_gateway_websockets") == 0; }));
}

TEST_F(WsGateway, UnknownAndReleasedSecretsRefuseTheUpgradeWithTheBodiesHttpAnswers) {
    const auto unknown = server_->base_url() + "/rpc/nosuchsecret";
    WsClient nobody(ws_url(unknown));
    EXPECT_FALSE(nobody.open());
    EXPECT_EQ(nobody.refused_status, 404u);
    EXPECT_EQ(nobody.refused_body, post_raw(unknown, "").body);

    const auto [id, url] = lease();
    ASSERT_EQ(api_->cancel(id).status, 200);
    WsClient late(ws_url(url));
    EXPECT_FALSE(late.open());
    EXPECT_EQ(late.refused_status, 410u);
    EXPECT_EQ(late.refused_body, post_raw(url, "").body);
    EXPECT_EQ(error_code(json::parse(late.refused_body)), -32002);
}

TEST_F(WsGateway, EveryCallInFlightAtTheReleaseIsAnsweredBeforeTheCloseAndTheNextLeaseIsClean) {
    const auto [id, url] = lease();
    WsClient a(ws_url(url));
    WsClient b(ws_url(url));
    ASSERT_TRUE(a.open());
    ASSERT_TRUE(b.open());
    ASSERT_TRUE(b.call("eth_subscribe", json::array{"newHeads"}).at("result").is_string());

    // Writes pipelined without reading, with the cancel right behind them.
    constexpr int kWrites = 300;
    for (int i = 0; i < kWrites; ++i) {
        a.send(json::serialize(
            json::object{{"jsonrpc", "2.0"},
                         {"id", i},
                         {"method", "anvil_setBalance"},
                         {"params", json::array{kAddrX, "0x" + std::to_string(100 + i)}}}));
    }
    const auto cancelled = api_->cancel(id);
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;

    // What was answered was done, or refused as released; none of it after the close frame
    // (what came after the close frame had been sent is never answered).
    std::set<std::int64_t> answered;
    std::size_t done = 0;
    for (const auto& text : a.until_closed()) {
        const auto v = json::parse(text);
        const auto code = error_code(v);
        EXPECT_TRUE(code == 0 || code == -32002) << text;
        done += code == 0 ? 1 : 0;
        EXPECT_TRUE(answered.insert(v.at("id").to_number<std::int64_t>()).second) << text;
    }
    EXPECT_GT(done, 0u);
    EXPECT_EQ(a.close_code(), 4000);
    EXPECT_EQ(a.close_reason(), "fork released");
    b.until_closed();
    EXPECT_EQ(b.close_code(), 4000);
    EXPECT_EQ(b.close_reason(), "fork released");
    // Reverted, not replaced: no forwarded call was cut, every one had landed before the revert.
    const auto teardown = value_at(data_of(cancelled), "/executionState/cancellation/forks/0");
    EXPECT_EQ(str(teardown.at("method")), "evm_revert") << json::serialize(teardown);
    EXPECT_TRUE(teardown.at("ok").as_bool()) << json::serialize(teardown);

    // The next lease: none of the writes, no block, and its own subscription works.
    const auto [next, next_url] = lease();
    WsClient c(ws_url(next_url));
    ASSERT_TRUE(c.open());
    EXPECT_EQ(c.call("eth_getBalance", json::array{kAddrX, "latest"}).at("result"), "0x0");
    EXPECT_EQ(c.call("eth_blockNumber").at("result"), "0x0");
    ASSERT_TRUE(c.call("eth_subscribe", json::array{"newHeads"}).at("result").is_string());
    c.call("evm_mine");
    const auto head = c.notification();
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->at("params").at("result").at("number"), "0x1");
    EXPECT_EQ(api_->cancel(next).status, 200);
}

}  // namespace
}  // namespace forkrun::http::test
