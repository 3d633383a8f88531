// The HTTP rpcUrl's forwarding, seen from the fork's side of its TCP connections: calls in
// sequence reach the fork over one kept connection, a fork that dies mid-call is answered 502
// under the caller's id, and a call in flight when the lease ends is waited for and the fork
// destroyed rather than reverted, so that the next lease sees nothing of it.
#include <signal.h>

#include <thread>

#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"
#include "http/tcp_sockets.hpp"

namespace forkrun::http::test {
namespace {

// A server with chain 31337 and a run holding its one fork: a fork-mode run's own anvil, or the
// lease of a pool of one.
class HeldFork {
  public:
    HeldFork(std::string_view mode, json::object config, std::vector<std::string> args = {}) {
        config["chains"] =
            json::object{{"31337", json::object{{"poolSize", mode == "pool" ? 1 : 0}}}};
        const auto path = dir_.path() / "config.json";
        std::ofstream(path) << json::serialize(config);
        ServerOptions opts;
        opts.extra_args = {"--config", path.string()};
        opts.extra_args.insert(opts.extra_args.end(), args.begin(), args.end());
        server = std::make_unique<ServerProcess>(opts);
        api = std::make_unique<Api>(server->base_url());
        id = lease(mode);
        url = rpc_url_of(wait_forks_ready(*api, id, 1), 31337);
        const auto forks = anvil_children(server->pid());
        EXPECT_EQ(forks.size(), 1u);
        if (forks.size() == 1) {
            pid = forks[0];
            port = listening_port(pid);
        }
    }
    // Resumes the fork if a test stopped it, however the test ends.
    ~HeldFork() {
        if (pid > 0) {
            ::kill(pid, SIGCONT);
        }
    }

    std::string lease(std::string_view mode) {
        return str_at(api->create_ok(sim_request(mode, {31337}, hold_nodes())), "id");
    }

    // Sends `body` from a thread of its own to the stopped fork, and returns once it waits
    // unread in the fork's socket.
    std::thread call_in_flight(const std::string& body, HttpResponse& out) {
        ::kill(pid, SIGSTOP);
        EXPECT_TRUE(eventually([&] { return process_stopped(pid); }));
        std::thread caller([this, body, &out] { out = post_raw(url, body); });
        EXPECT_TRUE(eventually([&] { return unread_on(port) > 0; }));
        return caller;
    }

    std::unique_ptr<ServerProcess> server;
    std::unique_ptr<Api> api;
    std::string id;
    std::string url;
    pid_t pid = 0;
    unsigned port = 0;

  private:
    TempDir dir_;
};

void expect_unreachable_under_id(const HttpResponse& r, std::string_view id) {
    EXPECT_EQ(r.status, 502) << r.body;
    ASSERT_TRUE(r.json && r.json->is_object()) << r.body;
    const auto& body = r.json->as_object();
    EXPECT_EQ(body.at("id"), json::value(id)) << r.body;
    EXPECT_EQ(value_at(body, "/error/code"), json::value(-32003)) << r.body;
    const auto message = str(value_at(body, "/error/message"));
    EXPECT_NE(message.find("chain 31337 fork unreachable"), std::string::npos) << message;
    EXPECT_EQ(message.find("127.0.0.1"), std::string::npos) << "the fork's address: " << message;
}

TEST(GatewayForward, CallsInSequenceReachTheForkOverOneKeptConnection) {
    HeldFork f("fork", {}, {"--threads", "1"});
    ASSERT_NE(f.port, 0u);
    // What the fork manager's own client has open to the fork (its readiness calls).
    const auto before = client_ports_of(f.port);
    auto opened = [&] {
        std::set<unsigned> out;
        for (auto p : client_ports_of(f.port)) {
            if (!before.contains(p)) {
                out.insert(p);
            }
        }
        return out;
    };
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(rpc(f.url, "eth_blockNumber").status, 200);
    }
    const auto first = opened();
    EXPECT_EQ(first.size(), 1u) << "50 calls on one HTTP thread, one connection to the fork";
    for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(rpc(f.url, "eth_chainId").status, 200);
    }
    EXPECT_EQ(opened(), first) << "and the same one for the next calls";
    EXPECT_EQ(f.api->cancel(f.id).status, 200);
}

TEST(GatewayForward, AForkThatDiesMidCallIsAnswered502UnderTheCallersId) {
    HeldFork f("fork", {});
    ASSERT_NE(f.port, 0u);
    ASSERT_EQ(rpc(f.url, "eth_blockNumber").status, 200);  // a kept connection to the fork
    HttpResponse r;
    auto caller = f.call_in_flight(R"({"jsonrpc":"2.0","id":"mid","method":"eth_blockNumber"})", r);
    ::kill(f.pid, SIGKILL);
    caller.join();
    expect_unreachable_under_id(r, "mid");
    EXPECT_EQ(f.api->cancel(f.id).status, 200);
}

TEST(GatewayForward, ACallInFlightAtTheReleaseIsWaitedForAndTheForkDestroyedNotReverted) {
    HeldFork f("pool", json::object{{"teardownTimeoutMs", 2000}});
    ASSERT_NE(f.port, 0u);
    ASSERT_EQ(rpc(f.url, "eth_blockNumber").status, 200);
    HttpResponse r;
    auto caller = f.call_in_flight(R"({"jsonrpc":"2.0","id":"late","method":"anvil_setBalance",
                                       "params":[")" +
                                       std::string(kAddrX) + R"(","0x77"]})",
                                   r);

    // The release closes the rpcUrl, waits for the call, which the stopped fork never answers,
    // and so destroys the fork instead of reverting it.
    const auto cancelled = f.api->cancel(f.id);
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;
    const auto teardowns =
        value_at(data_of(cancelled), "/executionState/cancellation/forks").as_array();
    ASSERT_EQ(teardowns.size(), 1u);
    EXPECT_EQ(str(teardowns[0].at("method")), "destroy") << json::serialize(teardowns[0]);
    caller.join();
    expect_unreachable_under_id(r, "late");
    EXPECT_TRUE(eventually([&] { return process_gone(f.pid); }));
    EXPECT_EQ(rpc(f.url, "eth_chainId").status, 410);

    // The replacement knows nothing of the call.
    const std::string next = f.lease("pool");
    const auto next_url = rpc_url_of(wait_forks_ready(*f.api, next, 1), 31337);
    EXPECT_EQ(rpc_result(next_url, "eth_getBalance", json::array{kAddrX, "latest"}), "0x0");
    EXPECT_EQ(f.api->cancel(next).status, 200);
}

}  // namespace
}  // namespace forkrun::http::test
