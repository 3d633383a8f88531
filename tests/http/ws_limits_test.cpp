// WebSocket rpcUrls stay bounded: a message over the body limit closes its socket (1009), a client
// that does not read what it asked for is cut, a silent one is cut at the idle timeout, sockets
// count against the connection cap, and shutdown closes them promptly.
#include <signal.h>

#include <future>

#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"
#include "http/ws_client.hpp"

namespace forkrun::http::test {
namespace {

std::int64_t open_sockets(const ServerProcess& server) {
    const auto r = HttpClient(server.base_url()).send(make_request("GET", "/metrics"));
    const std::string name = "\nforkrun_gateway_websockets ";
    const auto at = r.body.find(name);
    return at == std::string::npos ? -1 : std::stoll(r.body.substr(at + name.size()));
}

class WsLimits : public ::testing::Test {
  protected:
    void start(std::vector<std::string> args = {}) {
        const auto path = dir_.path() / "config.json";
        std::ofstream(path) << R"({"chains": {"31337": {"poolSize": 1}}})";
        ServerOptions opts;
        opts.extra_args = {"--config", path.string()};
        opts.extra_args.insert(opts.extra_args.end(), args.begin(), args.end());
        server_ = std::make_unique<ServerProcess>(opts);
        api_ = std::make_unique<Api>(server_->base_url());
        const auto created = api_->create_ok(sim_request(
            "pool", {31337}, json::object{{"root", root({"w"})}, {"w", wait_node(120)}}));
        run_id_ = str_at(created, "id");
        url_ = rpc_url_of(wait_forks_ready(*api_, run_id_, 1), 31337);
    }

    TempDir dir_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<Api> api_;
    std::string run_id_;
    std::string url_;
};

TEST_F(WsLimits, AMessageOverTheBodyLimitClosesItsSocketWith1009) {
    start({"--body-limit", "4096"});
    WsClient ws(ws_url(url_));
    ASSERT_TRUE(ws.open());
    ws.send(R"({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[")" +
            std::string(8000, 'a') + R"("]})");
    ws.until_closed();
    EXPECT_EQ(ws.close_code(), 1009);
    WsClient again(ws_url(url_));
    ASSERT_TRUE(again.open());
    EXPECT_EQ(again.call("eth_chainId").at("result"), "0x7a69");
}

TEST_F(WsLimits, AClientThatDoesNotReadWhatItAskedForIsCut) {
    start();
    // 300 KB of code: each eth_getCode answer is 600 KB, and 100 of them are far past the
    // socket's 16 MiB queue and what the kernel buffers.
    const std::string code = "0x" + std::string(600000, 'f');
    ASSERT_EQ(rpc(url_, "anvil_setCode", json::array{kAddrX, code}).status, 200);
    WsClient ws(ws_url(url_));
    ASSERT_TRUE(ws.open());
    for (int i = 0; i < 100; ++i) {
        ws.send(json::serialize(json::object{{"jsonrpc", "2.0"},
                                             {"id", i},
                                             {"method", "eth_getCode"},
                                             {"params", json::array{kAddrX, "latest"}}}));
    }
    EXPECT_TRUE(eventually([&] { return open_sockets(*server_) == 0; }, 30s))
        << "the socket of a client that reads nothing stays open";
    const auto got = ws.until_closed();
    EXPECT_LT(got.size(), 100u);
    EXPECT_EQ(ws.close_code(), 0) << "cut, not closed: a close frame would wait behind the rest";
    // The fork and the server carry on.
    EXPECT_EQ(rpc_result(url_, "eth_chainId"), "0x7a69");
}

TEST_F(WsLimits, ASilentClientIsCutAtTheIdleTimeoutWhileATalkingOneStays) {
    start({"--idle-timeout-ms", "500"});
    WsClient silent(ws_url(url_));
    WsClient talking(ws_url(url_));
    ASSERT_TRUE(silent.open());
    ASSERT_TRUE(talking.open());
    EXPECT_EQ(open_sockets(*server_), 2);
    // The silent one never reads, so it never answers the server's ping.
    EXPECT_TRUE(eventually(
        [&] {
            EXPECT_EQ(talking.call("eth_chainId").at("result"), "0x7a69");
            return open_sockets(*server_) == 1;
        },
        10s));
    EXPECT_TRUE(silent.until_closed().empty());
    EXPECT_EQ(talking.call("eth_blockNumber").at("result"), "0x0");
}

TEST_F(WsLimits, SocketsCountAgainstTheConnectionCap) {
    start({"--max-connections", "3"});
    std::vector<std::unique_ptr<WsClient>> sockets;
    for (int i = 0; i < 3; ++i) {
        sockets.push_back(std::make_unique<WsClient>(ws_url(url_)));
        ASSERT_TRUE(sockets.back()->open()) << i;
        ASSERT_EQ(sockets.back()->call("eth_chainId").at("result"), "0x7a69");
    }
    auto healthz = [&] {
        RawConnection c(port_of(server_->base_url()));
        c.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        return raw_status(c.read_response_head(std::chrono::steady_clock::now() + 5s).data);
    };
    const auto shed = healthz();
    EXPECT_TRUE(!shed || *shed == 503) << *shed;
    sockets.pop_back();  // one closes: its place frees up
    EXPECT_TRUE(eventually([&] { return healthz() == 200; }, 10s));
}

TEST_F(WsLimits, ShutdownClosesEverySocketPromptly) {
    start();
    WsClient ws(ws_url(url_));
    ASSERT_TRUE(ws.open());
    ASSERT_TRUE(ws.call("eth_subscribe", json::array{"newHeads"}).at("result").is_string());
    auto stopped = std::async(std::launch::async, [&] { return server_->stop(SIGTERM, 10s); });
    ws.until_closed();
    // Runs are cancelled first (their forks released), then the server says it is going away.
    EXPECT_TRUE(ws.close_code() == 4000 || ws.close_code() == 1001) << ws.close_code();
    const auto status = stopped.get();
    EXPECT_TRUE(status.clean()) << status.describe();
    EXPECT_LT(status.elapsed, 5s) << status.describe();
}

}  // namespace
}  // namespace forkrun::http::test
