// Value-moving nodes against real anvil: dust caps, sibling transfers from one signer, a live run
// on a local upstream with a configured signer, and a key that never leaks.
#include <fstream>

#include "forks/test_anvil.hpp"
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

using forks::test::TestAnvil;

// anvil's dev account #1: funded on every fresh anvil chain; public test data.

json::object transfer(std::uint64_t chain,
                      std::string to,
                      std::string wei,
                      std::vector<std::string> children = {}) {
    return node("transfer", std::move(children),
                json::object{{"chainId", chain}, {"to", to}, {"valueWei", wei}});
}

json::object balance_of(std::uint64_t chain, std::string who, std::vector<std::string> children) {
    return node("rpc", std::move(children),
                json::object{{"chainId", chain},
                             {"method", "eth_getBalance"},
                             {"params", json::array{json::value(who), "latest"}}});
}

// A server whose chain 31337 is a local chain with a pool of one warm fork.
std::unique_ptr<ServerProcess> start_pool_server(TempDir& dir) {
    return start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
}

// A pool-mode simulation of `nodes`.
json::object pool_simulation(std::string_view prefix, json::object nodes) {
    auto body = run_request(unique_workflow_id(prefix), std::move(nodes));
    body["isSimulation"] = true;
    body["simulationMode"] = "pool";
    return body;
}

// Cancels `id`, expecting a 200 within 2 s with the run and node `node_id` cancelled.
json::object cancel_promptly(const Api& api, const std::string& id, std::string_view node_id) {
    const auto started = std::chrono::steady_clock::now();
    auto r = api.cancel(id);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_LT(took, 2s);
    const auto run = data_of(r);
    EXPECT_EQ(str_at(run, "status"), "cancelled");
    EXPECT_EQ(node_status(run, node_id), "cancelled");
    return run;
}

// root -> fund -> (send 1 ETH -> bal -> check, send 5 wei) in a dust test.
json::object dust_nodes(std::uint64_t chain) {
    return json::object{{"root", root({"fund"})},
                        {"fund", node("setBalance", {"send", "sibling"},
                                      json::object{{"chainId", chain},
                                                   {"address", kDev0},
                                                   {"valueWei", "100000000000000000000"}})},
                        {"send", transfer(chain, kSink, "1000000000000000000", {"bal"})},
                        {"sibling", transfer(chain, kSink2, "5")},
                        {"bal", balance_of(chain, kSink, {"check"})},
                        {"check", assert_node("{{nodes.bal.output}}", "equals", 1000)}};
}

TEST(SimTransfer, DustTestSimulationSendsTheDustAmountAndSiblingsNeverClash) {
    TempDir dir;
    auto server = start_pool_server(dir);
    Api api(server->base_url());
    auto body = pool_simulation("dust", dust_nodes(31337));
    body["isDustTest"] = true;
    const std::string id = str_at(api.create_ok(body), "id");
    auto run = api.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    const auto out = node_state(run, "send").at("output").as_object();
    EXPECT_EQ(str(out.at("requestedValueWei")), "1000000000000000000");
    EXPECT_EQ(str(out.at("sentValueWei")), "1000");
    EXPECT_EQ(str(out.at("status")), "0x1");
    EXPECT_EQ(str(out.at("from")), kDev0);
    // Both siblings from one signer landed: distinct nonces.
    EXPECT_EQ(str(node_state(run, "sibling").at("output").at("status")), "0x1");
}

TEST(SimTransfer, LiveRunOnAnUpstreamWithAConfiguredSignerAndNoKeyLeaks) {
    TestAnvil upstream(31337);
    TempDir dir;
    const auto key_path = dir.path() / "signer.key";
    std::ofstream(key_path) << "0x" << kKey1 << "\n";
    auto server = start_server_with_config(
        json::object{
            {"chains", json::object{{"31337", json::object{{"upstreamRpcUrl", upstream.url()},
                                                           {"poolSize", 0}}}}},
            {"signers",
             json::object{{"default", json::object{{"privateKeyFile", key_path.string()}}}}}},
        dir);
    Api api(server->base_url());
    auto nodes = json::object{{"root", root({"send"})},
                              {"send", transfer(31337, kSink, "1000000000000000000", {"bal"})},
                              {"bal", balance_of(31337, kSink, {"check"})},
                              {"check", assert_node("{{nodes.bal.output}}", "equals", 1000)}};
    auto body = run_request(unique_workflow_id("live"), nodes);
    body["isDustTest"] = true;
    auto created = api.create(body);
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = str_at(data_of(created), "id");
    auto run = api.wait_terminal(id, 60s);
    EXPECT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    EXPECT_TRUE(run.at("simulationForks").as_array().empty());
    // The transfer really happened on the upstream chain.
    EXPECT_EQ(str(node_state(run, "bal").at("output")), "0x3e8");

    // The key never appears in an answer or a log line.
    const std::string everything =
        created.body + json::serialize(run) + server->stderr_text() + server->stdout_text();
    EXPECT_EQ(everything.find(kKey1), std::string::npos);

    // Value moved in a live run needs a configured signer of that name.
    auto named = nodes;
    named["send"].as_object()["props"].as_object()["signer"] = "treasury";
    auto rejected = api.create(run_request(unique_workflow_id("live"), named));
    EXPECT_EQ(rejected.status, 400) << rejected.body;
    EXPECT_TRUE(has_error_at(errors_of(rejected), "/workflowDefinition/nodes/send"))
        << rejected.body;
}

// A live run whose upstream chain has a configured signer (anvil's dev key #1).
struct LiveChain {
    TestAnvil upstream{31337};
    TempDir dir;
    std::unique_ptr<ServerProcess> server;
    std::unique_ptr<Api> api;

    LiveChain() {
        const auto key_path = dir.path() / "signer.key";
        std::ofstream(key_path) << kKey1 << "\n";
        server = start_server_with_config(
            json::object{
                {"chains", json::object{{"31337", json::object{{"upstreamRpcUrl", upstream.url()},
                                                               {"poolSize", 0}}}}},
                {"signers",
                 json::object{{"default", json::object{{"privateKeyFile", key_path.string()}}}}}},
            dir);
        api = std::make_unique<Api>(server->base_url());
    }
};

TEST(SimTransfer, LiveSiblingTransfersFromOneSignerBothLand) {
    LiveChain live;
    auto nodes = json::object{{"root", root({"a", "b"})},
                              {"a", transfer(31337, kSink, "7", {"bal_a"})},
                              {"b", transfer(31337, kSink2, "9", {"bal_a"})},
                              {"bal_a", balance_of(31337, kSink, {"bal_b"})},
                              {"bal_b", balance_of(31337, kSink2, {})}};
    const std::string id =
        str_at(live.api->create_ok(run_request(unique_workflow_id("livesib"), nodes)), "id");
    auto run = live.api->wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    const auto a = node_state(run, "a").at("output").as_object();
    const auto b = node_state(run, "b").at("output").as_object();
    EXPECT_EQ(str(a.at("status")), "0x1");
    EXPECT_EQ(str(b.at("status")), "0x1");
    EXPECT_NE(str(a.at("txHash")), str(b.at("txHash")));
    // Both really moved value on the upstream chain.
    EXPECT_EQ(str(node_state(run, "bal_a").at("output")), "0x7");
    EXPECT_EQ(str(node_state(run, "bal_b").at("output")), "0x9");
}

TEST(SimTransfer, CancelDuringALiveWaitForBlocksAnswersPromptly) {
    LiveChain live;
    // Nothing mines on the upstream (anvil mines only on transactions): the wait never ends.
    auto nodes =
        json::object{{"root", root({"w"})},
                     {"w", node("wait", {}, json::object{{"chainId", 31337}, {"blocks", 3}})}};
    const std::string id =
        str_at(live.api->create_ok(run_request(unique_workflow_id("livewait"), nodes)), "id");
    live.api->poll_run(id, [](const json::object& r) { return node_status(r, "w") == "waiting"; });
    cancel_promptly(*live.api, id, "w");
}

TEST(SimTransfer, CancelDuringAReceiptWaitAnswersPromptly) {
    TempDir dir;
    auto server = start_pool_server(dir);
    Api api(server->base_url());
    // With automine off the transaction stays in the mempool: the receipt never comes.
    auto nodes = json::object{{"root", root({"manual_mining"})},
                              {"manual_mining", node("rpc", {"send"},
                                                     json::object{{"chainId", 31337},
                                                                  {"method", "evm_setAutomine"},
                                                                  {"params", json::array{false}}})},
                              {"send", transfer(31337, kSink, "1")}};
    auto body = pool_simulation("rcpt", nodes);
    const std::string id = str_at(api.create_ok(body), "id");
    // 120 CU: nonce, fee and gas queries (20 each), eth_sendRawTransaction (40) and one receipt
    // poll (20) were made, so the node is waiting for its receipt.
    api.poll_run(id, [](const json::object& r) {
        const auto n = node_state(r, "send");
        return str(n.at("status")) == "running" && number_of(n.at("cu")) >= 120;
    });
    const auto run = cancel_promptly(api, id, "send");
    // The pool fork was reverted, so the next lease has automine back and no pending transaction.
    const auto& forks = run.at("executionState").at("cancellation").at("forks").as_array();
    ASSERT_EQ(forks.size(), 1u);
    EXPECT_TRUE(forks[0].at("ok").as_bool()) << json::serialize(forks);
}

TEST(SimTransfer, LiveRunOnAChainWithoutUpstreamOrSignerIsA400NamingBoth) {
    TempDir dir;
    auto server = start_server_with_config(json::object{{"chains", json::object{}}}, dir);
    Api api(server->base_url());
    auto body =
        run_request(unique_workflow_id("live"),
                    json::object{{"root", root({"send"})}, {"send", transfer(8453, kSink, "1")}});
    auto r = api.create(body);
    ASSERT_EQ(r.status, 400) << r.body;
    const auto errors = errors_of(r);
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/send/props/chainId")) << r.body;
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/send")) << r.body;
    EXPECT_TRUE(contains_ci(r.body, "chain 8453")) << r.body;
}

TEST(SimTransfer, RevertedSendTransactionFailsTheRunWithItsReceipt) {
    TempDir dir;
    auto server = start_pool_server(dir);
    Api api(server->base_url());
    // A contract whose code is the INVALID opcode: every call to it reverts.
    auto nodes = json::object{{"root", root({"code"})},
                              {"code", node("rpc", {"poke"},
                                            json::object{{"chainId", 31337},
                                                         {"method", "anvil_setCode"},
                                                         {"params", json::array{kSink, "0xfe"}}})},
                              {"poke", node("sendTransaction", {"after"},
                                            json::object{{"chainId", 31337},
                                                         {"to", kSink},
                                                         {"data", "0x12345678"},
                                                         {"gasLimit", 100000}})},
                              {"after", assert_node("1", "equals", "1")}};
    auto body = pool_simulation("revert", nodes);
    const std::string id = str_at(api.create_ok(body), "id");
    auto run = api.wait_terminal(id, 60s);
    EXPECT_EQ(str_at(run, "status"), "failure");
    const auto err = node_state(run, "poke").at("error");
    EXPECT_EQ(str(err.at("code")), "transaction_reverted") << json::serialize(err);
    EXPECT_TRUE(contains_ci(str(err.at("message")), "\"status\":\"0x0\"")) << json::serialize(err);
    EXPECT_EQ(node_status(run, "after"), "skipped");
}

TEST(SimTransfer, ReRunCopiesTheSourcesDefinitionAndProps) {
    TempDir dir;
    auto server = start_server_with_config(json::object{{"chains", json::object{}}}, dir);
    Api api(server->base_url());
    auto source = run_request(
        unique_workflow_id("src"),
        json::object{{"root", root({"a"})}, {"a", assert_node("{{props.n}}", "gte", 3)}},
        json::array{json::object{{"key", "n"}, {"type", "number"}, {"required", true}}},
        json::object{{"n", 5}});
    const auto first = api.create_ok(source);
    const std::string src_id = str_at(first, "id");
    api.wait_terminal(src_id);
    auto rerun = api.create_ok(json::object{{"sourceRunId", src_id}});
    EXPECT_EQ(str_at(rerun, "sourceRunId"), src_id);
    EXPECT_EQ(str_at(rerun, "workflowId"), str_at(first, "workflowId"));
    EXPECT_EQ(rerun.at("workflowVersion"), first.at("workflowVersion"));
    EXPECT_EQ(rerun.at("propValues"), first.at("propValues"));
    EXPECT_EQ(rerun.at("workflowDefinition").at("nodes"),
              first.at("workflowDefinition").at("nodes"));
    auto done = api.wait_terminal(str_at(rerun, "id"));
    EXPECT_EQ(str_at(done, "status"), "success");
    // What the request gives overrides the source.
    auto changed = api.create_ok(
        json::object{{"sourceRunId", src_id}, {"propValues", json::object{{"n", 1}}}});
    EXPECT_EQ(str_at(api.wait_terminal(str_at(changed, "id")), "status"), "failure");
}

}  // namespace
}  // namespace forkrun::http::test
