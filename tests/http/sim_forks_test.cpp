// Simulation runs against real anvil: forks per chain, the rpcUrl gateway, CU metering, teardown
// on cancel and on completion, pool reverts, and faults.
#include <dirent.h>
#include <signal.h>

#include <fstream>

#include "forks/test_anvil.hpp"
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

using forks::test::TestAnvil;

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
