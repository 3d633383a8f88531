// Tests for the node types: their API names, the set a build executes, and a node's props checked
// on their own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/value.hpp>

#include "controller/field_error_print.hpp"
#include "controller/node_types.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ValidationNodeTypes, NamesRoundTrip) {
    for (std::size_t i = 0; i < kNodeTypeCount; ++i) {
        const auto type = static_cast<NodeType>(i);
        EXPECT_EQ(parse_node_type(to_string(type)), type);
    }
    EXPECT_EQ(parse_node_type("sendTransaction"), NodeType::kSendTransaction);
    EXPECT_EQ(parse_node_type("SendTransaction"), std::nullopt);
    EXPECT_EQ(parse_node_type(""), std::nullopt);
}

TEST(ValidationNodeTypes, SetHoldsWhatWasInserted) {
    constexpr NodeTypeSet set{NodeType::kManual, NodeType::kWait};
    static_assert(set.contains(NodeType::kWait) && !set.contains(NodeType::kRpc));
    NodeTypeSet all = NodeTypeSet::all();
    for (std::size_t i = 0; i < kNodeTypeCount; ++i) {
        EXPECT_TRUE(all.contains(static_cast<NodeType>(i)));
    }
    all.erase(NodeType::kBlock);
    EXPECT_FALSE(all.contains(NodeType::kBlock));
    EXPECT_FALSE(NodeTypeSet().contains(NodeType::kManual));
}

TEST(ValidationNodeTypes, CheckPropsTreatsNullAsNoProps) {
    FieldErrors errors;
    check_props(NodeType::kManual, json::value(), "/p", true, errors);
    EXPECT_THAT(errors, IsEmpty());
    check_props(NodeType::kRpc, json::value(), "/n/props", true, errors);
    EXPECT_THAT(errors,
                ElementsAre(FieldError{"/n/props/chainId", "chainId is required for node type rpc"},
                            FieldError{"/n/props/method", "method is required for node type rpc"}));
}

}  // namespace
}  // namespace forkrun::controller
