// Block-library nodes end to end: expansion recorded in the run's definition, executed on a real
// fork, outputs flowing out of a block, re-runs, and the 400s of a bad block node.
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

constexpr const char* kBlocksSink = "0x00000000000000000000000000000000000000ee";

json::object block_node(std::string block_id,
                        json::object inputs,
                        std::vector<std::string> children = {}) {
    return node("block", std::move(children),
                json::object{{"blockId", std::move(block_id)}, {"props", std::move(inputs)}});
}

// root -> pay (fund-then-transfer, 1 ETH in a dust test) -> check (balance-check >= sent).
json::object paying_nodes() {
    return json::object{
        {"root", root({"pay"})},
        {"pay", block_node("fund-then-transfer",
                           json::object{{"chainId", 31337},
                                        {"sender", kDev0},
                                        {"fundWei", "100000000000000000000"},
                                        {"to", kBlocksSink},
                                        {"valueWei", "1000000000000000000"}},
                           {"check"})},
        {"check", block_node("balance-check",
                             json::object{{"chainId", 31337},
                                          {"address", kBlocksSink},
                                          {"minWei", "{{nodes.pay.output.sentValueWei}}"}})}};
}

class SimBlocksTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<TempDir>();
        server_ = start_server_with_config(
            json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}},
            *dir_);
    }
    static void TearDownTestSuite() {
        server_.reset();
        dir_.reset();
    }
    Api api() const { return Api(server_->base_url()); }

    json::object simulation(std::string_view prefix, json::object nodes) const {
        auto body = run_request(unique_workflow_id(prefix), std::move(nodes));
        body["isSimulation"] = true;
        body["isDustTest"] = true;
        body["simulationMode"] = "pool";
        return body;
    }

    inline static std::unique_ptr<TempDir> dir_;
    inline static std::unique_ptr<ServerProcess> server_;
};

TEST_F(SimBlocksTest, ExpansionIsRecordedAndExecutedOnAFork) {
    const auto created = api().create_ok(simulation("blk", paying_nodes()));
    // The snapshot keeps the client's nodes and records each expansion beside them.
    const auto& def = created.at("workflowDefinition").as_object();
    EXPECT_EQ(def.at("nodes").as_object().size(), 3u);
    const auto& pay = def.at("blockExpansions").at("pay").as_object();
    EXPECT_EQ(str(pay.at("blockId")), "fund-then-transfer");
    const auto& sub = pay.at("nodes").as_object();
    ASSERT_TRUE(sub.contains("pay.fund") && sub.contains("pay.send")) << json::serialize(pay);
    EXPECT_EQ(sub.at("pay.fund").at("children"), (json::array{"pay.send"}));
    EXPECT_EQ(sub.at("pay.send").at("children"), (json::array{"pay"}));
    // Inputs are substituted with their JSON types.
    EXPECT_EQ(sub.at("pay.fund").at("props").at("chainId"), json::value(31337));
    EXPECT_EQ(sub.at("pay.send").at("props").at("to"), json::value(kBlocksSink));
    // An optional input that is not given leaves its prop out.
    EXPECT_FALSE(sub.at("pay.send").at("props").as_object().contains("signer"));
    // A block's own references are renamed with the block node's id.
    const auto& check = def.at("blockExpansions").at("check").at("nodes").as_object();
    EXPECT_EQ(check.at("check.check").at("props").at("value"),
              json::value("{{nodes.check.read.output}}"));

    const auto run = api().wait_terminal(str_at(created, "id"), 60s);
    ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    for (const char* id : {"pay.fund", "pay.send", "pay", "check.read", "check.check", "check"}) {
        EXPECT_EQ(node_status(run, id), "success") << id;
    }
    // A block node's output is its exit node's output.
    EXPECT_EQ(node_state(run, "pay").at("output"), node_state(run, "pay.send").at("output"));
    EXPECT_EQ(str(node_state(run, "pay").at("output").at("sentValueWei")), "1000");
    EXPECT_EQ(str(node_state(run, "check.read").at("output")), "0x3e8");
    // Expanded nodes are metered like any other: their shares add up to totalCu.
    double sum = 0;
    for (const auto& [id, n] : run.at("executionState").at("nodes").as_object()) {
        sum += number_of(n.at("cu"));
    }
    for (const auto& [id, f] : run.at("executionState").at("forks").as_object()) {
        sum += number_of(f.at("cu"));
    }
    EXPECT_GT(number_of(node_state(run, "pay.send").at("cu")), 0);
    EXPECT_EQ(sum, number_of(run.at("totalCu")));
}

TEST_F(SimBlocksTest, ReRunExpandsTheSourcesBlocksAgain) {
    const auto first = api().create_ok(simulation("blkre", paying_nodes()));
    api().wait_terminal(str_at(first, "id"), 60s);
    const auto rerun = api().create_ok(json::object{{"sourceRunId", str_at(first, "id")}});
    EXPECT_EQ(rerun.at("workflowDefinition"), first.at("workflowDefinition"));
    const auto run = api().wait_terminal(str_at(rerun, "id"), 60s);
    EXPECT_EQ(str_at(run, "status"), "success") << json::serialize(run);
}

TEST_F(SimBlocksTest, AFailingNodeInsideABlockFailsTheRunAndSkipsTheRest) {
    auto nodes = json::object{
        {"root", root({"check"})},
        {"check",
         block_node("balance-check",
                    json::object{{"chainId", 31337}, {"address", kBlocksSink}, {"minWei", "1"}},
                    {"after"})},
        {"after", assert_node("1", "equals", "1")}};
    const auto created = api().create_ok(simulation("blkfail", nodes));
    const auto run = api().wait_terminal(str_at(created, "id"), 60s);
    EXPECT_EQ(str_at(run, "status"), "failure");
    EXPECT_EQ(node_status(run, "check.check"), "failure");
    EXPECT_EQ(str(run.at("executionState").at("error").at("nodeId")), "check.check");
    EXPECT_EQ(node_status(run, "check"), "skipped");
    EXPECT_EQ(node_status(run, "after"), "skipped");
}

TEST_F(SimBlocksTest, BadBlockNodesAre400WithEveryProblem) {
    auto nodes = json::object{
        {"root", root({"a", "b", "c"})},
        {"a", block_node("no-such-block", json::object{})},
        {"b", block_node("balance-check", json::object{{"chainId", "one"}, {"extra", 1}})},
        {"c", block_node("transfer-and-confirm",
                         json::object{{"chainId", 31337}, {"to", "0x12"}, {"valueWei", "1"}})}};
    auto r = api().create(simulation("blkbad", nodes));
    ASSERT_EQ(r.status, 400) << r.body;
    const auto errors = errors_of(r);
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/a/props/blockId")) << r.body;
    EXPECT_TRUE(contains_ci(r.body, "unknown block \\\"no-such-block\\\"")) << r.body;
    EXPECT_TRUE(contains_ci(r.body, "balance-check")) << r.body;  // the library is listed
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/b/props/props/chainId")) << r.body;
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/b/props/props/extra")) << r.body;
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/b/props/props/address")) << r.body;
    // Expanded props are checked like any node's, at their place in blockExpansions.
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/blockExpansions/c/nodes/c.send/props/to"))
        << r.body;

    // A client cannot supply blockExpansions.
    auto body = simulation("blkbad", paying_nodes());
    body["workflowDefinition"].as_object()["blockExpansions"] = json::object{};
    auto supplied = api().create(body);
    EXPECT_EQ(supplied.status, 400);
    EXPECT_TRUE(has_error_at(errors_of(supplied), "/workflowDefinition/blockExpansions"));
}

}  // namespace
}  // namespace forkrun::http::test
