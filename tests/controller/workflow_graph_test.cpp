// Tests for the node graph of a definition: root first, then a topological order with ties by id,
// and every node even from an invalid definition.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "controller/workflow_validation.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ValidationGraph, RootFirstThenTopologicalWithTiesById) {
    const json::value nodes = json::parse(R"({
        "root": {"type": "manual", "children": ["c", "b"]},
        "c": {"type": "wait", "children": ["d"]},
        "b": {"type": "wait", "children": ["d", "a"]},
        "a": {"type": "wait"},
        "d": {"type": "wait"}
    })");
    const Graph graph = build_graph(nodes.as_object());
    EXPECT_THAT(graph.ids, ElementsAre("root", "b", "a", "c", "d"));
    EXPECT_THAT(topological_order(nodes.as_object()), ElementsAre("root", "b", "a", "c", "d"));
    const std::size_t root = *graph.find("root"), a = *graph.find("a"), b = *graph.find("b"),
                      c = *graph.find("c"), d = *graph.find("d");
    EXPECT_EQ(graph.find("zz"), std::nullopt);
    EXPECT_THAT(graph.children[root], ElementsAre(c, b));
    EXPECT_THAT(graph.children[b], ElementsAre(d, a));
    EXPECT_THAT(graph.parents[d], ElementsAre(b, c));
    EXPECT_THAT(graph.parents[a], ElementsAre(b));
    EXPECT_THAT(graph.parents[root], IsEmpty());
}

TEST(ValidationGraph, InvalidInputStillGivesEveryNode) {
    const json::value nodes = json::parse(R"({
        "root": {"type": "manual", "children": ["x", "ghost", 3]},
        "y": {"children": ["x"]},
        "x": {"children": ["y"]}
    })");
    const Graph graph = build_graph(nodes.as_object());
    EXPECT_THAT(graph.ids, ElementsAre("root", "x", "y"));
    EXPECT_THAT(graph.children[0], ElementsAre(1u));
}

}  // namespace
}  // namespace forkrun::controller
