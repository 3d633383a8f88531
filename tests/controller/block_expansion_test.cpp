// Tests for expanding block nodes at run creation: a block's nodes spliced between the block
// node's parents and itself with its inputs substituted, every problem at its pointer, the
// expanded graph bounded, and the pointers of expanded nodes.
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "controller/block_library.hpp"
#include "controller/field_error_print.hpp"
#include "controller/send_block.hpp"
#include "controller/workflow_validation.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using test::kSendBlock;
using test::load_block;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class BlockExpansion : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_THAT(load_block(lib_, kSendBlock), IsEmpty()); }

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

TEST(BlockExpansionPointer, ANodeOfAnExpansionIsUnderBlockExpansions) {
    EXPECT_EQ(node_pointer("root"), "/workflowDefinition/nodes/root");
    EXPECT_EQ(node_pointer("x.pay"), "/workflowDefinition/blockExpansions/x/nodes/x.pay");
    EXPECT_EQ(node_pointer("a~b/c"), "/workflowDefinition/nodes/a~0b~1c");
}

}  // namespace
}  // namespace forkrun::controller
