// Tests for the block library: the shipped blocks load, bad block files are refused with every
// problem, and expansion splices a block's nodes into a run's graph with its inputs substituted.
#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "controller/block_library.hpp"
#include "controller/field_error_print.hpp"
#include "controller/templates.hpp"
#include "controller/workflow_validation.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kSendBlock = R"({
  "blockId": "send", "description": "funds then sends",
  "inputs": [{"key": "chainId", "type": "number", "required": true},
             {"key": "to", "type": "string", "required": true},
             {"key": "memo", "type": "string"},
             {"key": "signer", "type": "string"}],
  "entry": "fund", "exit": "pay",
  "nodes": {
    "fund": {"type": "setBalance", "children": ["pay", "note"],
             "props": {"chainId": "{{inputs.chainId}}", "address": "{{inputs.to}}",
                       "valueWei": "5"}},
    "pay": {"type": "transfer",
            "props": {"chainId": "{{inputs.chainId}}", "to": "{{inputs.to}}", "valueWei": "1",
                      "signer": "{{inputs.signer}}"}},
    "note": {"type": "assert",
             "props": {"value": "memo: {{inputs.memo}} after {{nodes.fund.output}}",
                       "notEquals": ""}}
  }
})";

std::vector<std::string> load(BlockLibrary& lib, std::string_view text) {
    std::vector<std::string> problems;
    lib.add(json::parse(text), "test.json", problems);
    return problems;
}

bool mentions(const std::vector<std::string>& problems, std::string_view what) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(what) != std::string::npos; });
}

TEST(BlockLibrary, TheShippedBlocksLoad) {
    std::vector<std::string> problems;
    const auto lib =
        BlockLibrary::load_dir(std::string(FORKRUN_SOURCE_DIR) + "/fixtures/blocks", problems);
    EXPECT_THAT(problems, IsEmpty());
    EXPECT_GE(lib.size(), 3u);
    EXPECT_NE(lib.find("fund-then-transfer"), nullptr);
    EXPECT_NE(lib.find("balance-check"), nullptr);
}

TEST(BlockLibrary, AMissingFolderIsAProblem) {
    std::vector<std::string> problems;
    const auto lib = BlockLibrary::load_dir("/nonexistent/blocks", problems);
    EXPECT_EQ(lib.size(), 0u);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_THAT(problems[0], HasSubstr("/nonexistent/blocks"));
}

TEST(BlockLibrary, BadFilesAreRefusedWithEveryProblem) {
    BlockLibrary lib;
    const auto problems = load(lib, R"({
      "blockId": "bad id", "extra": 1, "entry": "missing", "exit": "b",
      "inputs": [{"key": "x", "type": "number"}],
      "nodes": {
        "output": {"type": "assert", "props": {"value": 1, "equals": 1}},
        "b": {"type": "block", "props": {"blockId": "other"}},
        "c": {"type": "rpc", "children": ["d"],
              "props": {"chainId": "{{props.chain}}", "method": "{{inputs.nope}}",
                        "params": ["{{nodes.zz.output}}"]}},
        "d": {"type": "rpc", "children": ["c"], "props": {"chainId": 1, "method": "m"}}
      }
    })");
    EXPECT_EQ(lib.size(), 0u);
    for (const char* expected :
         {"/blockId: blockId must be 1-64", "/extra: unknown field", "/entry: \"missing\"",
          "/nodes/output: \"output\" is reserved", "/nodes/b/type: a block cannot contain block",
          "{{props.chain}}: a block takes its values through inputs",
          "{{inputs.nope}}: the block declares no input",
          "{{nodes.zz.output}}: the block has no node", "cycle"}) {
        EXPECT_TRUE(mentions(problems, expected)) << expected << " in\n"
                                                  << ::testing::PrintToString(problems);
    }
    for (const auto& p : problems) {
        EXPECT_THAT(p, ::testing::StartsWith("test.json: "));
    }
}

TEST(BlockLibrary, ADuplicateBlockIdIsRefused) {
    BlockLibrary lib;
    EXPECT_THAT(load(lib, kSendBlock), IsEmpty());
    const auto again = load(lib, kSendBlock);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_THAT(again[0], HasSubstr("already defines block \"send\""));
}

class BlockExpansion : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_THAT(load(lib_, kSendBlock), IsEmpty()); }

    Expansion expand(std::string_view nodes,
                     bool is_simulation = true,
                     std::size_t max_nodes = 10000) {
        errors_.clear();
        const json::object parsed = json::parse(nodes).as_object();
        // The definition's validation would give these: the nodes here are all of known types.
        std::vector<NodeType> types;
        for (const auto& [id, node] : parsed) {
            const json::string& type = node.at("type").as_string();
            types.push_back(*parse_node_type(std::string_view(type.data(), type.size())));
        }
        return expand_blocks(parsed, types, &lib_, is_simulation, max_nodes, errors_);
    }

    BlockLibrary lib_;
    FieldErrors errors_;
};

TEST_F(BlockExpansion, SplicesTheBlockBetweenItsParentsAndItself) {
    const auto out = expand(R"({
      "root": {"type": "manual", "children": ["x"]},
      "x": {"type": "block", "children": ["after"],
            "props": {"blockId": "send",
                      "props": {"chainId": 1, "to": "0x00000000000000000000000000000000000000aa",
                                "memo": "{{props.m}}"}}},
      "after": {"type": "assert", "props": {"value": "{{nodes.x.output.status}}", "equals": "0x1"}}
    })");
    ASSERT_THAT(errors_, IsEmpty());
    // root now leads to the entry; the exit leads to x, which keeps its children.
    EXPECT_EQ(out.nodes.at("root").at("children"), (json::array{"x.fund"}));
    EXPECT_EQ(out.nodes.at("x.pay").at("children"), (json::array{"x"}));
    EXPECT_EQ(out.nodes.at("x").at("children"), (json::array{"after"}));
    const auto& fund = out.nodes.at("x.fund").as_object();
    EXPECT_EQ(fund.at("children"), (json::array{"x.pay", "x.note"}));
    EXPECT_EQ(fund.at("props").at("chainId"), json::value(1));  // typed, not "1"
    // Text templates: the input's text; the block's own node references renamed; an outer
    // template given as an input is kept for run time.
    EXPECT_EQ(out.nodes.at("x.note").at("props").at("value"),
              json::value("memo: {{props.m}} after {{nodes.x.fund.output}}"));
    // An optional input not given: its prop is left out.
    EXPECT_FALSE(out.nodes.at("x.pay").at("props").as_object().contains("signer"));
    // Recorded for the run's snapshot.
    EXPECT_EQ(out.expansions.at("x").at("blockId"), json::value("send"));
    EXPECT_EQ(out.expansions.at("x").at("nodes").as_object().size(), 3u);
    // The graph orders the block's nodes before the block node.
    const Graph g = build_graph(out.nodes);
    const auto pos = [&](std::string_view id) { return *g.find(id); };
    EXPECT_LT(pos("x.fund"), pos("x.pay"));
    EXPECT_LT(pos("x.pay"), pos("x"));
    EXPECT_LT(pos("x"), pos("after"));
}

TEST_F(BlockExpansion, BadBlockNodesAreReportedAtTheirPointers) {
    expand(R"({
      "root": {"type": "manual", "children": ["u", "v", "w"]},
      "u": {"type": "block", "props": {"blockId": "nope"}},
      "v": {"type": "block", "props": {"blockId": "send", "props": {"chainId": "1", "x": 2}}},
      "w": {"type": "block", "props": {"blockId": "send", "props": {"chainId": 1, "to": "0x1"}}}
    })",
           /*is_simulation=*/false);
    std::vector<std::string> paths;
    for (const auto& e : errors_) {
        paths.push_back(e.path);
    }
    EXPECT_THAT(paths, ::testing::UnorderedElementsAre(
                           "/workflowDefinition/nodes/u/props/blockId",
                           "/workflowDefinition/nodes/v/props/props/chainId",
                           "/workflowDefinition/nodes/v/props/props/x",
                           "/workflowDefinition/nodes/v/props/props/to",
                           "/workflowDefinition/blockExpansions/w/nodes/w.fund/type",
                           "/workflowDefinition/blockExpansions/w/nodes/w.fund/props/address",
                           "/workflowDefinition/blockExpansions/w/nodes/w.pay/props/to"))
        << ::testing::PrintToString(errors_);
}

TEST_F(BlockExpansion, TemplatesInAnInputPassAnyDeclaredType) {
    expand(R"({
      "root": {"type": "manual", "children": ["x"]},
      "x": {"type": "block", "props": {"blockId": "send",
            "props": {"chainId": "{{props.chain}}", "to": "{{props.to}}"}}}
    })");
    EXPECT_THAT(errors_, IsEmpty());
}

TEST_F(BlockExpansion, TheExpandedGraphIsBoundedLikeAnyWorkflow) {
    expand(R"({
      "root": {"type": "manual", "children": ["x"]},
      "x": {"type": "block", "props": {"blockId": "send",
            "props": {"chainId": 1, "to": "0x00000000000000000000000000000000000000aa"}}}
    })",
           /*is_simulation=*/true, /*max_nodes=*/4);
    ASSERT_EQ(errors_.size(), 1u);
    EXPECT_THAT(errors_[0].message, HasSubstr("with its blocks expanded this one has 5"));
}

TEST(BlockTemplates, NodeIdsOfAnExpansionParse) {
    auto pieces = parse_template_string("{{nodes.x.pay.output.txHash}}");
    ASSERT_TRUE(pieces);
    ASSERT_EQ(pieces->size(), 1u);
    EXPECT_EQ(pieces->front().ref->name, "x.pay");
    EXPECT_THAT(pieces->front().ref->fields, ElementsAre("txHash"));
    // `output` ends the id: a node named output still works, with fields after it.
    auto named = parse_template_string("{{nodes.output.output.output}}");
    ASSERT_TRUE(named);
    EXPECT_EQ(named->front().ref->name, "output");
    EXPECT_THAT(named->front().ref->fields, ElementsAre("output"));
    // At most one dot inside an id.
    EXPECT_FALSE(parse_template_string("{{nodes.a.b.c.output}}"));
    EXPECT_FALSE(parse_template_string("{{nodes.a.b}}"));
}

}  // namespace
}  // namespace forkrun::controller
