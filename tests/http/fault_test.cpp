// Fault tests (issue #5 item 4), black-box against a real server and real anvil: forks and
// upstreams dying mid-run, JSON-RPC upstreams that answer slowly, truncated, not JSON or huge,
// a storm of concurrent cancels, a client trickling its headers, oversized bodies, and very large
// or very deep workflows. Each asserts what a user would see (a clear failure, never a hang, a 5xx
// or a crash) and ends with the server still answering GET /healthz.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <latch>
#include <map>
#include <mutex>
#include <thread>

#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Processes.

struct ProcInfo {
    pid_t pid = 0;
    pid_t ppid = 0;
    char state = 0;  // 'Z' for a zombie
    std::string comm;
    std::string cmdline;  // arguments joined by spaces ("" for a zombie)
};

std::vector<ProcInfo> all_processes() {
    std::vector<ProcInfo> out;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) {
        return out;
    }
    while (auto* e = ::readdir(d)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0) {
            continue;
        }
        const std::string dir = "/proc/" + std::string(e->d_name);
        std::ifstream stat(dir + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto open = line.find('(');
        const auto close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close + 2 > line.size()) {
            continue;
        }
        ProcInfo p;
        p.pid = pid;
        p.comm = line.substr(open + 1, close - open - 1);
        std::istringstream rest(line.substr(close + 2));
        rest >> p.state >> p.ppid;
        std::ifstream cmd(dir + "/cmdline", std::ios::binary);
        std::string args((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
        std::replace(args.begin(), args.end(), '\0', ' ');
        p.cmdline = trim(args);
        out.push_back(std::move(p));
    }
    ::closedir(d);
    return out;
}

/// Every anvil below `root` in the process tree, zombies included.
std::vector<ProcInfo> anvil_descendants(pid_t root) {
    const auto procs = all_processes();
    std::multimap<pid_t, const ProcInfo*> children;
    for (const auto& p : procs) {
        children.emplace(p.ppid, &p);
    }
    std::vector<ProcInfo> out;
    std::vector<pid_t> todo{root};
    while (!todo.empty()) {
        const pid_t parent = todo.back();
        todo.pop_back();
        auto [lo, hi] = children.equal_range(parent);
        for (auto it = lo; it != hi; ++it) {
            todo.push_back(it->second->pid);
            if (it->second->comm == "anvil") {
                out.push_back(*it->second);
            }
        }
    }
    return out;
}

/// The anvils below `root` that are still running (not zombies).
std::vector<ProcInfo> live_anvils(pid_t root) {
    auto all = anvil_descendants(root);
    std::erase_if(all, [](const ProcInfo& p) { return p.state == 'Z'; });
    return all;
}

std::string describe(const std::vector<ProcInfo>& procs) {
    std::string out;
    for (const auto& p : procs) {
        out += std::to_string(p.pid) + " [" + p.state + "] " + p.cmdline + "\n";
    }
    return out.empty() ? "none" : out;
}

/// Polls until `pid` has died but is not reaped yet (a zombie whose every thread is gone, so
/// that its parent can see the exit); false at the deadline.
bool becomes_zombie(pid_t pid, std::chrono::milliseconds within = 5s) {
    const auto deadline = Clock::now() + within;
    for (;;) {
        std::ifstream status("/proc/" + std::to_string(pid) + "/status");
        const bool exists = status.is_open();
        bool zombie = false;
        bool one_thread = false;
        for (std::string line; std::getline(status, line);) {
            zombie = zombie || (line.starts_with("State:") && line.find('Z') != std::string::npos);
            one_thread = one_thread || line == "Threads:\t1";
        }
        if (zombie && one_thread) {
            return true;
        }
        if (!exists || Clock::now() >= deadline) {
            return false;
        }
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(5ms);
    }
}

/// Polls until `pid` is neither running nor a zombie; false after `within`.
bool reaped_within(pid_t pid, std::chrono::milliseconds within = 5s) {
    const auto deadline = Clock::now() + within;
    for (;;) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        if (!stat) {
            return true;
        }
        if (Clock::now() >= deadline) {
            return false;
        }
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(20ms);
    }
}

// ---------------------------------------------------------------------------------------------
// Requests.

void expect_healthz(const Api& api) {
    HttpResponse r = api.get("/healthz", std::nullopt);
    EXPECT_EQ(r.status, 200) << "the server stopped answering healthz: " << r.transport_error
                             << r.body;
    EXPECT_EQ(str_at(data_of(r), "status"), "ok") << r.body;
}

json::object rpc_node(std::uint64_t chain,
                      std::string_view method,
                      std::vector<std::string> children = {},
                      json::array params = {}) {
    return node(
        "rpc", std::move(children),
        json::object{{"chainId", chain}, {"method", method}, {"params", std::move(params)}});
}

json::object sim_request(std::string_view mode, json::array chains, json::object nodes) {
    auto body = run_request(unique_workflow_id("fault"), std::move(nodes));
    body["isSimulation"] = true;
    body["simulationMode"] = mode;
    body["chains"] = std::move(chains);
    return body;
}

json::object wait_node_waiting(const Api& api, const std::string& id, std::string_view node_id) {
    return api.poll_run(
        id, [&](const json::object& r) { return node_status(r, node_id) == "waiting"; }, 30s);
}

/// A run for a failure message, cut short (a huge node output must not flood the log).
std::string brief(const json::object& run) {
    std::string text = json::serialize(run);
    return text.size() <= 4000 ? text : text.substr(0, 4000) + "...";
}

std::string error_message(const json::object& run, std::string_view node_id) {
    const auto n = node_state(run, node_id);
    const auto* e = n.if_contains("error");
    return e != nullptr && e->is_object() ? str_at(e->get_object(), "message") : std::string{};
}

std::string error_code(const json::object& run, std::string_view node_id) {
    const auto n = node_state(run, node_id);
    const auto* e = n.if_contains("error");
    return e != nullptr && e->is_object() ? str_at(e->get_object(), "code") : std::string{};
}

// ---------------------------------------------------------------------------------------------
// A JSON-RPC upstream that misbehaves on purpose: a thread with a loopback socket.

class FakeUpstream {
  public:
    enum class Mode {
        kOk,         // a proper JSON-RPC reply
        kSlow,       // reads the request and never answers
        kTruncated,  // promises 1000 bytes, sends 100, closes
        kNotJson,    // 200 with the body `not json`
        kHuge,       // a 50 MB JSON-RPC reply (its result a 50 MB string)
        kLongHex,    // a 2 MB JSON-RPC reply: a result of 2 million hex digits
    };

    explicit FakeUpstream(Mode mode) : mode_(mode) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listener_, 64) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            throw std::runtime_error("FakeUpstream: cannot listen on loopback");
        }
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    FakeUpstream(const FakeUpstream&) = delete;
    FakeUpstream& operator=(const FakeUpstream&) = delete;

    ~FakeUpstream() {
        stop_ = true;
        acceptor_.join();
        std::lock_guard lock(mu_);
        for (auto& t : handlers_) {
            t.join();
        }
        ::close(listener_);
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
    int requests() const { return requests_.load(); }

  private:
    void accept_loop() {
        while (!stop_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) {
                continue;
            }
            const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                continue;
            }
            std::lock_guard lock(mu_);
            handlers_.emplace_back([this, fd] {
                serve(fd);
                ::close(fd);
            });
        }
    }

    // Reads one request (headers and Content-Length body); false when the client went away.
    bool read_request(int fd, std::string& buffer, std::string& body) {
        for (;;) {
            const auto end = buffer.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::size_t length = 0;
                const std::string head = to_lower(buffer.substr(0, end));
                if (auto at = head.find("content-length:"); at != std::string::npos) {
                    length = std::stoul(head.substr(at + 15));
                }
                if (buffer.size() >= end + 4 + length) {
                    body = buffer.substr(end + 4, length);
                    buffer.erase(0, end + 4 + length);
                    return true;
                }
            }
            if (!read_some(fd, buffer)) {
                return false;
            }
        }
    }

    // Appends what arrives; false when the peer closed or the fake is stopping.
    bool read_some(int fd, std::string& buffer) {
        char chunk[16384];
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) {
                continue;
            }
            const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) {
                return false;
            }
            buffer.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        return false;
    }

    static bool send_all(int fd, std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    static std::string response(std::string_view body) {
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
    }

    void serve(int fd) {
        std::string buffer;
        std::string body;
        while (read_request(fd, buffer, body)) {
            ++requests_;
            boost::system::error_code ec;
            const auto call = json::parse(body, ec);
            const json::value id =
                !ec && call.is_object() && call.get_object().contains("id") ? call.at("id") : 1;
            switch (mode_) {
                case Mode::kOk:
                    if (!send_all(fd, response(json::serialize(json::object{
                                          {"jsonrpc", "2.0"}, {"id", id}, {"result", "0x10"}})))) {
                        return;
                    }
                    break;
                case Mode::kSlow:
                    // Hold the connection open, silent, until the client gives up.
                    while (read_some(fd, buffer)) {
                    }
                    return;
                case Mode::kTruncated:
                    send_all(fd,
                             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: 1000\r\n\r\n" +
                                 std::string(R"({"jsonrpc":"2.0","id":)") + json::serialize(id) +
                                 R"(,"result":")" + std::string(60, 'a'));
                    return;
                case Mode::kNotJson:
                    if (!send_all(fd, response("not json"))) {
                        return;
                    }
                    break;
                case Mode::kHuge:
                case Mode::kLongHex: {
                    // Streamed as it is made, so the first bytes arrive at once.
                    const std::size_t digits = mode_ == Mode::kHuge ? 50'000'000 : 2'000'000;
                    const std::string head =
                        R"({"jsonrpc":"2.0","id":)" + json::serialize(id) + R"(,"result":"0x)";
                    const std::string tail = "\"}";
                    const std::string block(1 << 20, 'a');
                    bool ok = send_all(fd,
                                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                       "Content-Length: " +
                                           std::to_string(head.size() + digits + tail.size()) +
                                           "\r\n\r\n" + head);
                    for (std::size_t left = digits; ok && left > 0;) {
                        const std::size_t n = std::min(left, block.size());
                        ok = send_all(fd, std::string_view(block).substr(0, n));
                        left -= n;
                    }
                    if (!ok || !send_all(fd, tail)) {
                        return;
                    }
                    break;
                }
            }
        }
    }

    const Mode mode_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> requests_{0};
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<std::thread> handlers_;
};

constexpr std::uint64_t kFakeChain = 777;
constexpr int kRpcTimeoutMs = 1500;

/// A live run of root -> call (rpc on the fake chain) -> check against an upstream in `mode`:
/// the call fails with a clear error well within the rpc timeout, the run is `failure`.
json::object live_run_against(FakeUpstream::Mode mode,
                              std::chrono::milliseconds& took,
                              json::object check = assert_node("{{nodes.call.output}}",
                                                               "equals",
                                                               "0x10")) {
    FakeUpstream upstream(mode);
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{std::to_string(kFakeChain),
                                              json::object{{"upstreamRpcUrl", upstream.url()},
                                                           {"poolSize", 0}}}}},
                     {"rpcTimeoutMs", kRpcTimeoutMs},
                     // The size these tests were written for (the default is 1 MiB since #10).
                     {"maxNodeOutputBytes", 4 * 1024 * 1024}},
        dir);
    Api api(server->base_url());
    const auto started = Clock::now();
    const std::string id =
        str_at(api.create_ok(run_request(
                   unique_workflow_id("upstream"),
                   json::object{{"root", root({"call"})},
                                {"call", rpc_node(kFakeChain, "eth_blockNumber", {"check"})},
                                {"check", std::move(check)}})),
               "id");
    auto run = api.wait_terminal(id, 30s);
    took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    EXPECT_GE(upstream.requests(), 1) << "the node never reached the upstream";
    EXPECT_TRUE(is_run(run));
    expect_healthz(api);
    const auto status = server->stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe();
    return run;
}

/// What every bad answer must come to: `call` failed with an rpc error naming the chain and the
/// method, `check` skipped, the run `failure` with that node named.
void expect_clear_rpc_failure(const json::object& run,
                              const std::string& what,
                              const std::string& code = "rpc_failed") {
    EXPECT_EQ(str_at(run, "status"), "failure") << brief(run);
    EXPECT_EQ(node_status(run, "call"), "failure");
    EXPECT_EQ(node_status(run, "check"), "skipped");
    EXPECT_EQ(error_code(run, "call"), code) << json::serialize(node_state(run, "call"));
    const auto msg = error_message(run, "call");
    EXPECT_TRUE(contains_ci(msg, "chain 777")) << msg;
    EXPECT_TRUE(contains_ci(msg, "eth_blockNumber")) << msg;
    EXPECT_TRUE(contains_ci(msg, what)) << "want '" << what << "' in: " << msg;
    EXPECT_EQ(str(value_at(run, "/executionState/error/nodeId")), "call") << brief(run);
    EXPECT_LT(msg.size(), 1000u) << "the error must be a sentence, not the upstream's body";
}

TEST(FaultUpstreamAnswers, ProperAnswerSucceeds) {
    // The control case: the fake upstream and the config work.
    std::chrono::milliseconds took{};
    const auto run = live_run_against(FakeUpstream::Mode::kOk, took);
    EXPECT_EQ(str_at(run, "status"), "success") << brief(run);
}

TEST(FaultUpstreamAnswers, SlowAnswerFailsTheNodeAtTheRpcTimeout) {
    std::chrono::milliseconds took{};
    const auto run = live_run_against(FakeUpstream::Mode::kSlow, took);
    expect_clear_rpc_failure(run, "no reply within 1500 ms");
    EXPECT_GE(took, std::chrono::milliseconds(kRpcTimeoutMs));
    EXPECT_LT(took, std::chrono::milliseconds(kRpcTimeoutMs) + 3s);
}

TEST(FaultUpstreamAnswers, TruncatedAnswerFailsTheNodeAtOnce) {
    std::chrono::milliseconds took{};
    const auto run = live_run_against(FakeUpstream::Mode::kTruncated, took);
    expect_clear_rpc_failure(run, "closed");
    EXPECT_LT(took, std::chrono::milliseconds(kRpcTimeoutMs));
}

TEST(FaultUpstreamAnswers, AnswerThatIsNotJsonFailsTheNodeAtOnce) {
    std::chrono::milliseconds took{};
    const auto run = live_run_against(FakeUpstream::Mode::kNotJson, took);
    expect_clear_rpc_failure(run, "not JSON");
    EXPECT_LT(took, std::chrono::milliseconds(kRpcTimeoutMs));
}

TEST(FaultUpstreamAnswers, HugeAnswerFailsTheNodeSayingSo) {
    std::chrono::milliseconds took{};
    const auto run = live_run_against(FakeUpstream::Mode::kHuge, took);
    // A reply past a node's output limit is `tooLarge` (API.md "Limits and quotas").
    expect_clear_rpc_failure(run, "larger than the 4 MiB limit", "tooLarge");
    EXPECT_LT(json::serialize(run).size(), 100'000u) << "the huge answer ended up in the run";
    EXPECT_LT(took, std::chrono::milliseconds(kRpcTimeoutMs));
}

TEST(FaultUpstreamAnswers, LongHexAnswerUnderTheLimitIsKeptAndAssertedAtOnce) {
    // 2 million hex digits: an output a node may hold, and an assert on it must not stall the
    // one executor every run shares (it used to read the hex as an integer, in quadratic time).
    std::chrono::milliseconds took{};
    const auto run = live_run_against(FakeUpstream::Mode::kLongHex, took,
                                      assert_node("{{nodes.call.output}}", "notEquals", "0x10"));
    ASSERT_EQ(str_at(run, "status"), "success") << error_message(run, "check");
    EXPECT_EQ(str(node_state(run, "call").at("output")).size(), 2'000'002u);
    EXPECT_LT(took, 5s);
}

// ---------------------------------------------------------------------------------------------
// Forks and upstreams that die mid-run.

TEST(FaultForks, ForkSigkilledMidRunIsReportedByCancelAndReaped) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 0}}}}}}, dir);
    Api api(server->base_url());
    const std::string id =
        str_at(api.create_ok(sim_request(
                   "fork", {31337}, json::object{{"root", root({"w"})}, {"w", wait_node(30)}})),
               "id");
    auto run = wait_forks_ready(api, id, 1);
    const std::string fork_id = str(value_at(run, "/simulationForks/0/forkId"));
    const auto forks = live_anvils(server->pid());
    ASSERT_EQ(forks.size(), 1u) << describe(forks);
    ASSERT_EQ(::kill(forks[0].pid, SIGKILL), 0);
    // The fork is dead (a zombie nobody has reaped yet) before the user cancels.
    ASSERT_TRUE(becomes_zombie(forks[0].pid)) << describe(anvil_descendants(server->pid()));

    auto c = api.cancel(id, kTokenARw, "fork died");
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_LT(c.elapsed, 3s) << "a dead fork needs no teardown grace";
    const auto& data = data_of(c);
    EXPECT_EQ(str_at(data, "status"), "cancelled");
    const auto teardowns = value_at(data, "/executionState/cancellation/forks");
    ASSERT_TRUE(teardowns.is_array() && teardowns.as_array().size() == 1) << c.body;
    const auto& t = teardowns.as_array()[0].as_object();
    EXPECT_EQ(str_at(t, "forkId"), fork_id);
    EXPECT_FALSE(str_at(t, "method").empty()) << json::serialize(t);
    // Either the teardown failed, or it says the fork had already died: never a silent "ok".
    EXPECT_TRUE(!t.at("ok").as_bool() || contains_ci(str_at(t, "error"), "already"))
        << json::serialize(t);
    EXPECT_TRUE(contains_ci(str_at(t, "error"), "signal") ||
                contains_ci(str_at(t, "error"), "killed"))
        << "the record should say how the fork died: " << json::serialize(t);
    // Reaped before the answer: no anvil, not even a zombie.
    EXPECT_TRUE(anvil_descendants(server->pid()).empty())
        << describe(anvil_descendants(server->pid()));
    expect_healthz(api);
}

TEST(FaultForks, PooledForkSigkilledMidRunIsNotLentAgain) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
    Api api(server->base_url());
    const std::string id =
        str_at(api.create_ok(sim_request(
                   "pool", {31337}, json::object{{"root", root({"w"})}, {"w", wait_node(30)}})),
               "id");
    wait_forks_ready(api, id, 1);
    const auto forks = live_anvils(server->pid());
    ASSERT_EQ(forks.size(), 1u) << describe(forks);
    const pid_t leased = forks[0].pid;
    ASSERT_EQ(::kill(leased, SIGKILL), 0);

    auto c = api.cancel(id, kTokenARw, "fork died");
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_LT(c.elapsed, 6s) << "bounded by the teardown timeout";
    const auto t = value_at(data_of(c), "/executionState/cancellation/forks/0");
    ASSERT_TRUE(t.is_object()) << c.body;
    EXPECT_EQ(str(t.at("method")), "evm_revert");
    EXPECT_FALSE(t.at("ok").as_bool()) << json::serialize(t);
    EXPECT_FALSE(str(t.at("error")).empty()) << json::serialize(t);
    EXPECT_TRUE(reaped_within(leased)) << "the killed fork was not reaped";

    // The pool replaces the dead fork: the next pool run works on a live one.
    const std::string next =
        str_at(api.create_ok(sim_request(
                   "pool", {31337},
                   json::object{{"root", root({"id"})},
                                {"id", rpc_node(31337, "eth_chainId", {"check"})},
                                {"check", assert_node("{{nodes.id.output}}", "equals", 31337)}})),
               "id");
    auto done = api.wait_terminal(next, 60s);
    EXPECT_EQ(str_at(done, "status"), "success") << brief(done);
    const auto now = live_anvils(server->pid());
    EXPECT_TRUE(
        std::none_of(now.begin(), now.end(), [&](const ProcInfo& p) { return p.pid == leased; }));
    expect_healthz(api);
}

/// A server with a devnet upstream for chain 31337 (no pool) and `rpcTimeoutMs`; the upstream's
/// pid.
struct DevnetServer {
    TempDir dir;
    std::unique_ptr<ServerProcess> server;
    pid_t upstream = 0;

    explicit DevnetServer(int rpc_timeout_ms) {
        server = start_server_with_config(
            json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 0}}}}},
                         {"devnet", json::array{31337}},
                         {"rpcTimeoutMs", rpc_timeout_ms}},
            dir);
        for (const auto& p : live_anvils(server->pid())) {
            if (p.cmdline.find("--fork-url") == std::string::npos) {
                upstream = p.pid;
            }
        }
    }
};

TEST(FaultUpstream, UpstreamKilledDuringALiveRunFailsTheNextRpcNodeClearly) {
    DevnetServer devnet(3000);
    ASSERT_NE(devnet.upstream, 0) << describe(anvil_descendants(devnet.server->pid()));
    Api api(devnet.server->base_url());
    const std::string id = str_at(
        api.create_ok(run_request(unique_workflow_id("updies"),
                                  json::object{{"root", root({"before"})},
                                               {"before", rpc_node(31337, "eth_chainId", {"w"})},
                                               {"w", wait_node(2, {"after"})},
                                               {"after", rpc_node(31337, "eth_chainId", {"check"})},
                                               {"check", assert_node("1", "equals", "1")}})),
        "id");
    wait_node_waiting(api, id, "w");
    ASSERT_EQ(::kill(devnet.upstream, SIGKILL), 0);
    const auto killed = Clock::now();

    auto run = api.wait_terminal(id, 20s);
    EXPECT_LT(Clock::now() - killed, 2s + 3s + 2s) << "bounded by the wait and the rpc timeout";
    EXPECT_EQ(str_at(run, "status"), "failure") << brief(run);
    EXPECT_EQ(node_status(run, "before"), "success");
    EXPECT_EQ(node_status(run, "w"), "success");
    EXPECT_EQ(node_status(run, "after"), "failure");
    EXPECT_EQ(node_status(run, "check"), "skipped");
    EXPECT_EQ(error_code(run, "after"), "rpc_failed");
    const auto msg = error_message(run, "after");
    EXPECT_TRUE(contains_ci(msg, "chain 31337")) << msg;
    EXPECT_TRUE(contains_ci(msg, "connection refused")) << msg;
    expect_healthz(api);
    const auto status = devnet.server->stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe();
    EXPECT_TRUE(reaped_within(devnet.upstream)) << "the dead upstream was never reaped";
}

TEST(FaultUpstream, UpstreamKilledUnderAForkFailsTheForksNextUpstreamReadWithinTheRpcTimeout) {
    DevnetServer devnet(3000);
    ASSERT_NE(devnet.upstream, 0) << describe(anvil_descendants(devnet.server->pid()));
    Api api(devnet.server->base_url());
    // An address nobody touched: the fork must ask its upstream for it.
    const std::string fresh = "0x" + random_hex(40);
    const std::string id = str_at(
        api.create_ok(sim_request("fork", {31337},
                                  json::object{{"root", root({"w"})},
                                               {"w", wait_node(1, {"bal"})},
                                               {"bal", rpc_node(31337, "eth_getBalance", {},
                                                                json::array{fresh, "latest"})}})),
        "id");
    wait_forks_ready(api, id, 1);
    wait_node_waiting(api, id, "w");
    ASSERT_EQ(::kill(devnet.upstream, SIGKILL), 0);
    const auto killed = Clock::now();

    auto run = api.wait_terminal(id, 30s);
    EXPECT_LT(Clock::now() - killed, 1s + 3s + 3s) << "bounded by the wait and the rpc timeout";
    EXPECT_EQ(str_at(run, "status"), "failure") << brief(run);
    EXPECT_EQ(node_status(run, "bal"), "failure");
    const auto msg = error_message(run, "bal");
    EXPECT_TRUE(contains_ci(msg, "chain 31337")) << msg;
    EXPECT_TRUE(contains_ci(msg, "eth_getBalance")) << msg;
    // The run released its fork; only the (dead) upstream is left until the server stops.
    EXPECT_TRUE(live_anvils(devnet.server->pid()).empty())
        << describe(live_anvils(devnet.server->pid()));
    expect_healthz(api);
    const auto status = devnet.server->stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe();
}

// ---------------------------------------------------------------------------------------------
// Cancels in bulk.

TEST(FaultCancel, ThousandConcurrentCancelsOfFiveHundredRunsGiveOneWinnerEach) {
    ServerOptions options;
    options.extra_args = {"--no-access-log"};
    ServerProcess server(options);
    Api api(server.base_url());
    constexpr int kRuns = 500;
    std::vector<std::string> ids;
    for (int i = 0; i < kRuns; ++i) {
        ids.push_back(str_at(api.create_ok(wait_run(unique_workflow_id("storm"), 60)), "id"));
        ASSERT_FALSE(ids.back().empty());
    }
    const auto started = Clock::now();
    std::latch go(2 * kRuns);
    std::vector<HttpResponse> answers(2 * kRuns);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2 * kRuns; ++i) {
        threads.emplace_back([&, i] {
            HttpRequest request = make_request("POST", "/v1/runs/" + ids[i / 2] + "/cancel");
            request.headers.emplace_back("Authorization", std::string("Bearer ") + kTokenARw);
            request.timeout = 60s;
            go.arrive_and_wait();
            answers[i] = api.client().send(request);
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    const auto took = Clock::now() - started;
    EXPECT_LT(took, 20s);
    for (int r = 0; r < kRuns; ++r) {
        const HttpResponse& a = answers[2 * r];
        const HttpResponse& b = answers[2 * r + 1];
        std::vector<long> statuses{a.status, b.status};
        std::sort(statuses.begin(), statuses.end());
        ASSERT_EQ(statuses, (std::vector<long>{200, 409}))
            << "run " << ids[r] << ": " << a.transport_error << a.body << "\n"
            << b.transport_error << b.body;
        EXPECT_TRUE(is_envelope(a));
        EXPECT_TRUE(is_envelope(b));
        // The loser's 409 shows the final run: cancelled, with the winner's record.
        EXPECT_EQ(str_at(data_of(a), "status"), "cancelled");
        EXPECT_EQ(str_at(data_of(b), "status"), "cancelled");
        EXPECT_EQ(value_at(data_of(a), "/finishedAt"), value_at(data_of(b), "/finishedAt"));
        EXPECT_EQ(value_at(data_of(a), "/executionState/cancellation"),
                  value_at(data_of(b), "/executionState/cancellation"));
    }
    HttpResponse list = api.get("/v1/runs?status=waiting,running&limit=200");
    ASSERT_EQ(list.status, 200);
    EXPECT_TRUE(data_of(list).at("runs").as_array().empty()) << list.body.substr(0, 500);
    HttpResponse health = api.get("/healthz", std::nullopt);
    ASSERT_EQ(health.status, 200);
    EXPECT_EQ(value_at(data_of(health), "/activeRuns"), json::value(0)) << health.body;
    const auto status = server.stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe();
}

// ---------------------------------------------------------------------------------------------
// Misbehaving clients.

TEST(FaultHttp, HeadersTrickledOneByteEvery300MsAreCutAtTheReadTimeout) {
    ServerOptions options;
    options.extra_args = {"--read-timeout-ms", "1500"};
    ServerProcess server(options);
    Api api(server.base_url());
    const std::string request =
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"
        "X-Padding: " +
        std::string(40, 'p') + "\r\n\r\n";
    RawConnection slow(server.port());
    const auto started = Clock::now();
    bool closed = false;
    std::size_t sent = 0;
    int healthz_ok = 0;
    while (!closed && sent < request.size() && Clock::now() - started < 15s) {
        if (!slow.send_all(std::string_view(request).substr(sent, 1))) {
            closed = true;
            break;
        }
        ++sent;
        // Meanwhile, everyone else is served at once.
        HttpResponse h = api.get("/healthz", std::nullopt);
        EXPECT_EQ(h.status, 200) << h.transport_error;
        EXPECT_LT(h.elapsed, 1s);
        healthz_ok += h.status == 200;
        // The pause between bytes is the fault itself; a close ends it early.
        const auto r =
            slow.read_until(Clock::now() + 300ms, [](const std::string&) { return false; });
        closed = r.closed;
        if (!r.data.empty()) {
            const auto status = raw_status(r.data);
            EXPECT_TRUE(status && *status >= 400 && *status < 500) << r.data;
        }
    }
    const auto took = Clock::now() - started;
    EXPECT_TRUE(closed) << "a trickling client kept its connection for " << sent << " bytes";
    EXPECT_LT(sent, request.size()) << "the whole request arrived: the test proved nothing";
    EXPECT_GE(took, 1200ms) << "closed before the read timeout";
    EXPECT_LT(took, 1500ms + 2500ms) << "each byte must not extend the read timeout";
    EXPECT_GE(healthz_ok, 3);
    expect_healthz(api);
}

TEST(FaultHttp, TenMegabyteBodyIs413AndTheServerCarriesOn) {
    ServerProcess server;
    Api api(server.base_url());
    const std::string workflow_id = unique_workflow_id("tenmb");
    auto body = json::serialize(quick_run(workflow_id));
    body.insert(body.size() - 1, ",\"pad\":\"" + std::string(10'000'000, 'x') + "\"");
    HttpRequest request = make_request("POST", "/v1/runs", body);
    request.headers = {{"Content-Type", "application/json"},
                       {"Authorization", std::string("Bearer ") + kTokenARw}};
    HttpResponse r = api.send(request);
    EXPECT_EQ(r.status, 413) << r.transport_error << r.body.substr(0, 300);
    EXPECT_TRUE(contains_ci(message_of(r), "limit")) << r.body;
    EXPECT_LT(r.elapsed, 5s);

    // The same body without a Content-Length (chunked): refused once the limit is crossed.
    RawConnection chunked(server.port());
    ASSERT_TRUE(chunked.send_all(std::string("POST /v1/runs HTTP/1.1\r\nHost: x\r\n"
                                             "Authorization: Bearer ") +
                                 kTokenARw +
                                 "\r\nContent-Type: application/json\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
    std::size_t sent = 0;
    RawConnection::ReadResult answer;
    const auto started = Clock::now();
    while (sent < 10'000'000 && answer.data.empty() && !answer.closed) {
        if (!chunked.send_all(chunk)) {
            break;
        }
        sent += 0x10000;
        answer =
            chunked.read_until(Clock::now() + 5ms, [](const std::string& d) { return !d.empty(); });
    }
    if (answer.data.find("\r\n\r\n") == std::string::npos) {
        auto more = chunked.read_response_head(Clock::now() + 5s);
        answer.data += more.data;
    }
    EXPECT_EQ(raw_status(answer.data), 413) << answer.data.substr(0, 300);
    EXPECT_LT(sent, 10'000'000u) << "the server read the whole 10 MB before refusing";
    EXPECT_LT(Clock::now() - started, 5s);

    HttpResponse list = api.get("/v1/runs?workflowId=" + workflow_id);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_TRUE(data_of(list).at("runs").as_array().empty()) << "an oversized body created a run";
    expect_healthz(api);
}

// ---------------------------------------------------------------------------------------------
// Very large and very deep workflows.

/// root plus `n - 1` assert nodes, either all children of root (`wide`) or a chain.
json::object big_workflow(std::string_view workflow_id, int n, bool wide) {
    json::object nodes;
    std::vector<std::string> root_children;
    for (int i = 1; i < n; ++i) {
        const std::string id = "n" + std::to_string(i);
        std::vector<std::string> children;
        if (!wide && i + 1 < n) {
            children.push_back("n" + std::to_string(i + 1));
        }
        nodes[id] = assert_node(1, "equals", 1, std::move(children));
        if (wide || i == 1) {
            root_children.push_back(id);
        }
    }
    nodes["root"] = root(std::move(root_children));
    return run_request(workflow_id, std::move(nodes));
}

void expect_every_node(const json::object& run, std::size_t n, std::string_view status) {
    const auto nodes = value_at(run, "/executionState/nodes");
    ASSERT_TRUE(nodes.is_object());
    EXPECT_EQ(nodes.as_object().size(), n);
    std::size_t matching = 0;
    for (const auto& [id, state] : nodes.as_object()) {
        matching += str_at(state.as_object(), "status") == status;
    }
    EXPECT_EQ(matching, n);
}

TEST(FaultWorkflow, TenThousandNodesWideOrOneChainTenThousandDeepRunToSuccess) {
    ServerOptions options;
    options.extra_args = {"--no-access-log"};
    ServerProcess server(options);
    Api api(server.base_url());
    for (const bool wide : {true, false}) {
        SCOPED_TRACE(wide ? "10,000 siblings" : "a chain 10,000 deep");
        const auto body = big_workflow(unique_workflow_id("big"), 10000, wide);
        ASSERT_LT(json::serialize(body).size(), 1u << 20) << "must fit the default body limit";
        const auto started = Clock::now();
        auto created = api.create(body);
        ASSERT_EQ(created.status, 201) << created.body.substr(0, 1000);
        EXPECT_LT(created.elapsed, 5s);
        auto run = api.wait_terminal(str_at(data_of(created), "id"), 60s);
        EXPECT_EQ(str_at(run, "status"), "success");
        expect_every_node(run, 10000, "success");
        EXPECT_LT(Clock::now() - started, 30s);
    }
    // One node more is refused with one clear error, not 10,001 of them.
    auto too_many = api.create(big_workflow(unique_workflow_id("big"), 10001, true));
    ASSERT_EQ(too_many.status, 400) << too_many.body.substr(0, 1000);
    const auto errors = errors_of(too_many);
    ASSERT_EQ(errors.size(), 1u) << too_many.body.substr(0, 1000);
    EXPECT_TRUE(contains_ci(str_at(errors[0].as_object(), "message"), "10000"))
        << json::serialize(errors);
    expect_healthz(api);
}

TEST(FaultWorkflow, PropsNestedTenThousandDeepAreA400NotACrash) {
    ServerProcess server;
    Api api(server.base_url());
    std::string nested = std::string(10000, '[') + "1" + std::string(10000, ']');
    auto text = json::serialize(quick_run(unique_workflow_id("deep")));
    // {"...": ..., "workflowDefinition": {"nodes": {"a": {... "props": {"value": <deep>, ...
    const std::string marker = R"("value":"1")";
    const auto at = text.find(marker);
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, marker.size(), "\"value\":" + nested);
    HttpRequest request = make_request("POST", "/v1/runs", text);
    request.headers = {{"Content-Type", "application/json"},
                       {"Authorization", std::string("Bearer ") + kTokenARw}};
    HttpResponse r = api.send(request);
    ASSERT_EQ(r.status, 400) << r.body.substr(0, 500);
    EXPECT_TRUE(are_validation_errors(r));
    const auto msg = str_at(errors_of(r).at(0).as_object(), "message");
    EXPECT_TRUE(contains_ci(msg, "deep") || contains_ci(msg, "depth") || contains_ci(msg, "nest"))
        << "the 400 should say the body nests too deeply: " << msg;
    EXPECT_FALSE(server.exited()) << "the server died on a deeply nested body";
    expect_healthz(api);
}

}  // namespace
}  // namespace forkrun::http::test
