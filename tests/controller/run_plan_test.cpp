// The plan a request compiles to: nodes in execution order with their types and edges, the
// chains its nodes name, and which plans need no chain.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <vector>

#include "controller/block_library.hpp"
#include "controller/run_plan.hpp"
#include "controller/run_request.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;

boost::system::result<NewRun, FieldErrors> decode(std::string_view nodes,
                                                  const BlockLibrary* blocks = nullptr) {
    json::object body{{"workflowId", "wf_plan"},
                      {"workflowVersion", 1},
                      {"isSimulation", true},
                      {"workflowDefinition", json::object{{"inputSchema", json::array()},
                                                          {"nodes", json::parse(nodes)}}}};
    RunRequestContext ctx;
    ctx.organization_id = "org_a";
    ctx.enabled_types = NodeTypeSet::all();
    ctx.blocks = blocks;
    return decode_run_request(body, ctx);
}

TEST(RunPlan, NodesAreRootFirstThenInTopologicalOrderWithTheirTypesAndEdges) {
    auto run = decode(R"({
        "root": {"type": "manual", "children": ["b", "a"]},
        "c": {"type": "assert", "props": {"value": 1, "equals": 1}},
        "b": {"type": "wait", "props": {"seconds": 0}, "children": ["c"]},
        "a": {"type": "rpc", "props": {"chainId": 1, "method": "eth_chainId"}, "children": ["c"]}})");
    ASSERT_TRUE(run);
    const RunPlan& plan = run->plan;
    ASSERT_EQ(plan.nodes.size(), 4u);
    std::vector<std::string> ids;
    for (const auto& n : plan.nodes) {
        ids.push_back(n.id);
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"root", "a", "b", "c"}));
    EXPECT_EQ(plan.nodes[1].type, NodeType::kRpc);
    EXPECT_EQ(plan.nodes[2].type, NodeType::kWait);
    EXPECT_EQ(plan.nodes[3].type, NodeType::kAssert);
    EXPECT_EQ(plan.nodes[0].children, (std::vector<std::size_t>{2, 1})) << "as written";
    EXPECT_EQ(plan.nodes[3].parents, (std::vector<std::size_t>{1, 2}));
    EXPECT_EQ(plan.nodes[1].props.at("method"), "eth_chainId");
    EXPECT_EQ(plan.find("c"), 3u);
    EXPECT_FALSE(plan.find("d"));
    // The run's node states follow the plan.
    ASSERT_EQ(run->run.nodes.size(), 4u);
    EXPECT_EQ(run->run.nodes[1].id, "a");
}

TEST(RunPlan, TheChainsAreThoseItsNodesNameOnceEachInTheDefinitionsOrder) {
    auto run = decode(R"({
        "root": {"type": "manual", "children": ["z", "a", "m"]},
        "z": {"type": "rpc", "props": {"chainId": 8453, "method": "eth_chainId"}},
        "a": {"type": "rpc", "props": {"chainId": 1, "method": "eth_chainId"}},
        "m": {"type": "rpc", "props": {"chainId": 8453, "method": "eth_blockNumber"}}})");
    ASSERT_TRUE(run);
    EXPECT_EQ(run->plan.chains, (std::vector<std::uint64_t>{8453, 1}));
    EXPECT_EQ(run->run.chains, run->plan.chains);
}

TEST(RunPlan, OnlyManualAssertAndTimedWaitNodesTouchNoChain) {
    auto plan = [](std::string_view nodes) {
        auto run = decode(nodes);
        EXPECT_TRUE(run);
        return run ? std::move(run->plan) : RunPlan{};
    };
    const auto timed = plan(R"({"root": {"type": "manual", "children": ["w"]},
                                "w": {"type": "wait", "props": {"seconds": 1}}})");
    EXPECT_TRUE(timed.touches_no_chain(64));
    EXPECT_FALSE(timed.touches_no_chain(1)) << "more nodes than allowed";
    const auto blocks = plan(R"({"root": {"type": "manual", "children": ["w"]},
                                 "w": {"type": "wait", "props": {"blocks": 1, "chainId": 1}}})");
    EXPECT_FALSE(blocks.touches_no_chain(64));
    const auto rpc = plan(R"({"root": {"type": "manual", "children": ["r"]},
                              "r": {"type": "rpc", "props": {"chainId": 1, "method": "m"}}})");
    EXPECT_FALSE(rpc.touches_no_chain(64));
}

TEST(RunPlan, ABlocksNodesComeTypedFromTheLibraryAndTheBlockNodeFollowsItsExit) {
    BlockLibrary lib;
    std::vector<std::string> problems;
    lib.add(json::parse(R"({"blockId": "probe", "entry": "ask", "exit": "check",
        "inputs": [{"key": "chainId", "type": "number", "required": true}],
        "nodes": {
            "ask": {"type": "rpc", "children": ["check"],
                    "props": {"chainId": "{{inputs.chainId}}", "method": "eth_chainId"}},
            "check": {"type": "assert", "props": {"value": 1, "equals": 1}}}})"),
            "probe.json", problems);
    ASSERT_TRUE(problems.empty()) << problems.front();
    auto run = decode(R"({"root": {"type": "manual", "children": ["p"]},
                          "p": {"type": "block", "props": {"blockId": "probe",
                                                           "props": {"chainId": 10}}}})",
                      &lib);
    ASSERT_TRUE(run) << run.error().front().path << ": " << run.error().front().message;
    const RunPlan& plan = run->plan;
    ASSERT_EQ(plan.nodes.size(), 4u);
    const auto ask = plan.find("p.ask");
    const auto check = plan.find("p.check");
    const auto block = plan.find("p");
    ASSERT_TRUE(ask && check && block);
    EXPECT_EQ(plan.nodes[*ask].type, NodeType::kRpc);
    EXPECT_EQ(plan.nodes[*check].type, NodeType::kAssert);
    EXPECT_EQ(plan.nodes[*block].type, NodeType::kBlock);
    EXPECT_TRUE(plan.nodes[*block].props.is_null()) << "consumed by the expansion";
    EXPECT_EQ(plan.nodes[*block].parents, (std::vector<std::size_t>{*check}));
    EXPECT_EQ(plan.nodes[*ask].props.at("chainId"), 10);
}

}  // namespace
}  // namespace forkrun::controller
