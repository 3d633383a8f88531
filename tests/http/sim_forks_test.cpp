// Simulation runs against real anvil: forks per chain, the rpcUrl gateway, CU metering, teardown
// on cancel and on completion, pool reverts, and faults.
#include <dirent.h>
#include <signal.h>

#include <fstream>

#include "forks/test_anvil.hpp"
#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

using forks::test::TestAnvil;

struct RpcReply {
    long status = 0;
    json::value body;
};

// One JSON-RPC call to `url` (a fork's rpcUrl or an anvil), as a wallet would make it.
RpcReply rpc(const std::string& url, std::string_view method, json::array params = {}) {
    const auto path_at = url.find('/', url.find("//") + 2);
    HttpClient client(url.substr(0, path_at));
    json::object call{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
    HttpRequest req = make_request("POST", path_at == std::string::npos ? "/" : url.substr(path_at),
                                   json::serialize(call));
    req.headers.emplace_back("Content-Type", "application/json");
    auto r = client.send(req);
    RpcReply out;
    out.status = r.status;
    if (r.json) {
        out.body = *r.json;
    }
    return out;
}

std::string rpc_result(const std::string& url, std::string_view method, json::array params = {}) {
    auto r = rpc(url, method, std::move(params));
    EXPECT_EQ(r.status, 200) << method << " " << json::serialize(r.body);
    const auto* obj = r.body.if_object();
    const auto* result = obj ? obj->if_contains("result") : nullptr;
    return result && result->is_string() ? std::string(result->get_string()) : std::string();
}

// The anvil processes whose parent is `parent`.
std::vector<pid_t> anvil_children(pid_t parent) {
    std::vector<pid_t> out;
    DIR* d = opendir("/proc");
    if (!d) {
        return out;
    }
    while (auto* e = readdir(d)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0) {
            continue;
        }
        std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto open = line.find('(');
        const auto close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos) {
            continue;
        }
        const std::string comm = line.substr(open + 1, close - open - 1);
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (comm == "anvil" && ppid == parent && state != 'Z') {
            out.push_back(pid);
        }
    }
    closedir(d);
    return out;
}

bool process_gone(pid_t pid) {
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

json::object sim_request(std::string_view mode, json::array chains, json::object nodes) {
    auto body = run_request(unique_workflow_id("sim"), std::move(nodes));
    body["isSimulation"] = true;
    body["simulationMode"] = mode;
    body["chains"] = std::move(chains);
    return body;
}

json::object rpc_node(std::uint64_t chain,
                      std::string_view method,
                      std::vector<std::string> children = {}) {
    return node("rpc", std::move(children),
                json::object{{"chainId", chain}, {"method", method}, {"params", json::array{}}});
}

// Waits until every chain of the run has a fork with an rpcUrl.
json::object wait_forks_ready(const Api& api, const std::string& id, std::size_t n) {
    return api.poll_run(
        id,
        [&](const json::object& run) {
            const auto* f = run.if_contains("simulationForks");
            return f && f->is_array() && f->as_array().size() == n;
        },
        30s);
}

std::string rpc_url_of(const json::object& run, std::uint64_t chain) {
    for (const auto& f : run.at("simulationForks").as_array()) {
        if (f.at("chainId").to_number<std::uint64_t>() == chain) {
            return str(f.at("rpcUrl"));
        }
    }
    return {};
}

std::uint64_t total_cu(const json::object& run) {
    return run.at("totalCu").to_number<std::uint64_t>();
}

// The sum of every node's and fork's share of the run.
std::uint64_t parts_cu(const json::object& run) {
    std::uint64_t sum = 0;
    const auto& es = run.at("executionState").as_object();
    for (const auto& [id, n] : es.at("nodes").as_object()) {
        sum += n.at("cu").to_number<std::uint64_t>();
    }
    for (const auto& [id, f] : es.at("forks").as_object()) {
        sum += f.at("cu").to_number<std::uint64_t>();
    }
    return sum;
}

constexpr const char* kAddrX = "0x00000000000000000000000000000000000000aa";
constexpr const char* kAddrY = "0x00000000000000000000000000000000000000bb";

TEST(SimForks, TwoChainForkRunServesBothChainsAndCancelTearsDownEveryFork) {
    TestAnvil upstream(1);
    rpc_result(upstream.url(), "anvil_setBalance", json::array{kAddrX, "0x1234"});
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"1", json::object{{"upstreamRpcUrl", upstream.url()},
                                                                {"poolSize", 0}}},
                                             {"8453", json::object{{"poolSize", 0}}}}}},
        dir);
    Api api(server->base_url());
    auto created = api.create_ok(sim_request(
        "fork", json::array{1, 8453}, json::object{{"root", root({"w"})}, {"w", wait_node(30)}}));
    const std::string id = str_at(created, "id");
    auto run = wait_forks_ready(api, id, 2);
    const auto url1 = rpc_url_of(run, 1);
    const auto url8453 = rpc_url_of(run, 8453);
    ASSERT_FALSE(url1.empty());
    ASSERT_FALSE(url8453.empty());
    EXPECT_TRUE(url1.starts_with(server->base_url() + "/rpc/")) << url1;

    EXPECT_EQ(rpc_result(url1, "eth_chainId"), "0x1");
    EXPECT_EQ(rpc_result(url8453, "eth_chainId"), "0x2105");
    // State set on the upstream before the run reads through the fork.
    EXPECT_EQ(rpc_result(url1, "eth_getBalance", json::array{kAddrX, "latest"}), "0x1234");
    // State set through the gateway stays on the fork.
    rpc_result(url1, "anvil_setBalance", json::array{kAddrY, "0x99"});
    EXPECT_EQ(rpc_result(url1, "eth_getBalance", json::array{kAddrY, "latest"}), "0x99");
    EXPECT_EQ(rpc_result(upstream.url(), "eth_getBalance", json::array{kAddrY, "latest"}), "0x0");

    const auto forks = anvil_children(server->pid());
    EXPECT_EQ(forks.size(), 2u);

    auto cancelled = api.cancel(id, kTokenARw, "done testing");
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;
    const auto& data = data_of(cancelled);
    EXPECT_EQ(str_at(data, "status"), "cancelled");
    const auto teardowns = value_at(data, "/executionState/cancellation/forks").as_array();
    ASSERT_EQ(teardowns.size(), 2u);
    for (const auto& t : teardowns) {
        EXPECT_TRUE(t.at("ok").as_bool()) << json::serialize(t);
        EXPECT_TRUE(t.at("error").is_null()) << json::serialize(t);
    }
    // Answered after teardown: the fork processes are already gone.
    for (auto pid : forks) {
        EXPECT_TRUE(process_gone(pid)) << "fork " << pid << " still there after cancel";
    }
    EXPECT_EQ(rpc(url1, "eth_chainId").status, 410);
    EXPECT_EQ(rpc(url8453, "eth_chainId").status, 410);
    EXPECT_EQ(total_cu(data), parts_cu(data));
}

TEST(SimForks, PoolLeaseSeesNothingAnEarlierRunChanged) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
    Api api(server->base_url());
    auto nodes = json::object{{"root", root({"w"})}, {"w", wait_node(30)}};
    const std::string first = str_at(api.create_ok(sim_request("pool", {31337}, nodes)), "id");
    auto run = wait_forks_ready(api, first, 1);
    const auto url = rpc_url_of(run, 31337);
    rpc_result(url, "anvil_setBalance", json::array{kAddrX, "0x5"});
    EXPECT_EQ(rpc_result(url, "eth_getBalance", json::array{kAddrX, "latest"}), "0x5");
    auto c = api.cancel(first);
    ASSERT_EQ(c.status, 200) << c.body;
    const auto t = value_at(data_of(c), "/executionState/cancellation/forks/0");
    EXPECT_EQ(str(t.at("method")), "evm_revert");
    EXPECT_TRUE(t.at("ok").as_bool()) << json::serialize(t);

    // The pool has one fork: the next lease gets the same process, reverted.
    const std::string second = str_at(api.create_ok(sim_request("pool", {31337}, nodes)), "id");
    run = wait_forks_ready(api, second, 1);
    EXPECT_EQ(rpc_result(rpc_url_of(run, 31337), "eth_getBalance", json::array{kAddrX, "latest"}),
              "0x0");
    EXPECT_EQ(api.cancel(second).status, 200);
}

TEST(SimForks, GatewayCallsAreChargedExactlyByTheCostTable) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
    Api api(server->base_url());
    auto nodes = json::object{{"root", root({"w"})}, {"w", wait_node(30)}};
    std::vector<std::uint64_t> totals;
    for (int calls : {0, 1, 10}) {
        const std::string id = str_at(api.create_ok(sim_request("pool", {31337}, nodes)), "id");
        auto run = wait_forks_ready(api, id, 1);
        const auto url = rpc_url_of(run, 31337);
        for (int i = 0; i < calls; ++i) {
            rpc_result(url, "eth_blockNumber");
        }
        auto c = api.cancel(id);
        ASSERT_EQ(c.status, 200) << c.body;
        totals.push_back(total_cu(data_of(c)));
        EXPECT_EQ(total_cu(data_of(c)), parts_cu(data_of(c)));
        // Final: a later read shows the same total.
        EXPECT_EQ(total_cu(data_of(api.run(id))), totals.back());
    }
    constexpr std::uint64_t kBlockNumberCu = 10;  // fixtures/cu/alchemy-2026-11.json
    EXPECT_EQ(totals[1] - totals[0], 1 * kBlockNumberCu);
    EXPECT_EQ(totals[2] - totals[0], 10 * kBlockNumberCu);
}

TEST(SimForks, RpcNodeRunsOnTheForkAndAFinishedRunLeavesNoFork) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"8453", json::object{{"poolSize", 0}}}}}}, dir);
    Api api(server->base_url());
    auto body =
        sim_request("fork", {8453},
                    json::object{{"root", root({"id"})},
                                 {"id", rpc_node(8453, "eth_chainId", {"check"})},
                                 {"check", assert_node("{{nodes.id.output}}", "equals", 8453)}});
    const std::string id = str_at(api.create_ok(body), "id");
    auto run = api.wait_terminal(id, 30s);
    EXPECT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    EXPECT_EQ(node_status(run, "check"), "success");
    EXPECT_EQ(total_cu(run), parts_cu(run));
    EXPECT_EQ(str(value_at(run, "/executionState/forks").as_object().begin()->value().at("state")),
              "released");
    EXPECT_TRUE(anvil_children(server->pid()).empty());

    // A failing run releases its forks too.
    auto failing =
        sim_request("fork", {8453},
                    json::object{{"root", root({"a"})}, {"a", rpc_node(8453, "no_such_method")}});
    const std::string fid = str_at(api.create_ok(failing), "id");
    run = api.wait_terminal(fid, 30s);
    EXPECT_EQ(str_at(run, "status"), "failure");
    EXPECT_TRUE(contains_ci(str(value_at(run, "/executionState/error/message")), "no_such_method"))
        << json::serialize(run);
    EXPECT_TRUE(anvil_children(server->pid()).empty());
}

TEST(SimForks, SetBalanceCallAndWaitBlocksRunOnTheFork) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 0}}}}}}, dir);
    Api api(server->base_url());
    auto nodes = json::object{
        {"root", root({"fund", "mine", "peek"})},
        {"fund",
         node("setBalance", {"bal"},
              json::object{{"chainId", 31337}, {"address", kAddrX}, {"valueWei", "1000000"}})},
        {"bal", node("rpc", {"funded"},
                     json::object{{"chainId", 31337},
                                  {"method", "eth_getBalance"},
                                  {"params", json::array{kAddrX, "latest"}}})},
        {"funded", assert_node("{{nodes.bal.output}}", "equals", "1000000")},
        {"mine", node("wait", {"mined"}, json::object{{"chainId", 31337}, {"blocks", 5}})},
        {"mined", assert_node("{{nodes.mine.output.blockNumber}}", "gte", 5)},
        {"peek",
         node("call", {"empty"}, json::object{{"chainId", 31337}, {"to", kAddrY}, {"data", "0x"}})},
        {"empty", assert_node("{{nodes.peek.output}}", "equals", "0x")}};
    const std::string id = str_at(api.create_ok(sim_request("fork", {31337}, nodes)), "id");
    auto run = api.wait_terminal(id, 30s);
    EXPECT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    for (const char* n : {"fund", "bal", "funded", "mine", "mined", "peek", "empty"}) {
        EXPECT_EQ(node_status(run, n), "success") << n;
    }
    EXPECT_EQ(total_cu(run), parts_cu(run));
    // eth_getBalance and eth_call are charged to their nodes by the table.
    EXPECT_EQ(node_state(run, "bal").at("cu").to_number<std::uint64_t>(), 20u);
    EXPECT_EQ(node_state(run, "peek").at("cu").to_number<std::uint64_t>(), 26u);
}

TEST(SimForks, UnreachableUpstreamFailsTheRunNamingTheChainAndLeavesNoProcess) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{
            {"chains", json::object{{"5", json::object{{"upstreamRpcUrl", "http://127.0.0.1:1"},
                                                       {"poolSize", 0}}}}}},
        dir);
    Api api(server->base_url());
    const std::string id =
        str_at(api.create_ok(sim_request("fork", {5},
                                         json::object{{"root", root({"w"})}, {"w", wait_node(1)}})),
               "id");
    auto run = api.wait_terminal(id, 30s);
    EXPECT_EQ(str_at(run, "status"), "failure");
    const auto msg = str(value_at(run, "/executionState/error/message"));
    EXPECT_TRUE(contains_ci(msg, "chain 5")) << msg;
    EXPECT_EQ(node_status(run, "w"), "skipped");
    EXPECT_TRUE(anvil_children(server->pid()).empty());
}

TEST(SimForks, ForkKilledMidRunFailsItsNodeAndCancelStillAnswers) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 0}}}}}}, dir);
    Api api(server->base_url());
    auto body = sim_request("fork", {31337},
                            json::object{{"root", root({"w"})},
                                         {"w", wait_node(3, {"after"})},
                                         {"after", rpc_node(31337, "eth_blockNumber")}});
    const std::string id = str_at(api.create_ok(body), "id");
    wait_forks_ready(api, id, 1);
    auto forks = anvil_children(server->pid());
    ASSERT_EQ(forks.size(), 1u);
    ::kill(forks[0], SIGKILL);
    auto run = api.wait_terminal(id, 30s);
    EXPECT_EQ(str_at(run, "status"), "failure");
    const auto err = node_state(run, "after").at("error");
    EXPECT_TRUE(contains_ci(str(err.at("message")), "chain 31337")) << json::serialize(err);
    EXPECT_TRUE(anvil_children(server->pid()).empty());

    // Cancel of a run whose fork was killed answers within the teardown timeout.
    const std::string id2 =
        str_at(api.create_ok(sim_request(
                   "fork", {31337}, json::object{{"root", root({"w"})}, {"w", wait_node(30)}})),
               "id");
    wait_forks_ready(api, id2, 1);
    forks = anvil_children(server->pid());
    ASSERT_EQ(forks.size(), 1u);
    ::kill(forks[0], SIGKILL);
    const auto started = std::chrono::steady_clock::now();
    auto c = api.cancel(id2);
    EXPECT_EQ(c.status, 200) << c.body;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 6s);
    EXPECT_TRUE(anvil_children(server->pid()).empty());
}

TEST(SimForks, SigtermLeavesNoAnvilBehind) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 2}}},
                                             {"10", json::object{{"poolSize", 0}}}}},
                     {"devnet", json::array{10}}},
        dir);
    Api api(server->base_url());
    const std::string id =
        str_at(api.create_ok(sim_request(
                   "fork", {10}, json::object{{"root", root({"w"})}, {"w", wait_node(30)}})),
               "id");
    wait_forks_ready(api, id, 1);
    const auto before = anvil_children(server->pid());
    EXPECT_GE(before.size(), 2u);  // the devnet upstream and the run's fork, pool spawns too
    auto status = server->stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe();
    for (auto pid : before) {
        EXPECT_TRUE(process_gone(pid)) << "anvil " << pid << " survived the server";
    }
}

}  // namespace
}  // namespace forkrun::http::test
