// Tests for the block library: the shipped blocks load, bad block files are refused with every
// problem, and the node ids of an expansion parse in templates.
#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "controller/block_library.hpp"
#include "controller/field_error_print.hpp"
#include "controller/send_block.hpp"
#include "controller/templates.hpp"
#include "controller/workflow_validation.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using test::kSendBlock;
using test::load_block;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

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
    const auto problems = load_block(lib, R"({
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
    EXPECT_THAT(load_block(lib, kSendBlock), IsEmpty());
    const auto again = load_block(lib, kSendBlock);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_THAT(again[0], HasSubstr("already defines block \"send\""));
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
