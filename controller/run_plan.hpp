// The plan a run executes: its nodes typed, ordered and linked, compiled once at creation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "controller/node_types.hpp"

namespace forkrun::controller {

/// One node of a plan.
struct PlanNode {
    std::string id;
    NodeType type = NodeType::kManual;
    std::vector<std::size_t> children;  ///< positions in RunPlan::nodes
    std::vector<std::size_t> parents;
    /// The props as written, templates unresolved (null for a block node, whose props its
    /// expansion consumed). Resolved per run into the node type's NodeProps.
    boost::json::value props;
};

/// The nodes of a run with blocks expanded, in execution order: `nodes[0]` is `root`, then a
/// topological order with ties broken by id (the order of Run::nodes).
struct RunPlan {
    std::vector<PlanNode> nodes;
    std::map<std::string, std::size_t, std::less<>> index;  ///< id -> position in `nodes`
    /// The chains the run needs (Run::chains): compiled, the chain ids its nodes name
    /// literally, each once, in the order of the definition; the request may name others.
    std::vector<std::uint64_t> chains;

    /// Position of node `id`, if it is one.
    std::optional<std::size_t> find(std::string_view id) const;

    /// True when no node can touch a chain (only manual, assert and wait-by-seconds nodes) and
    /// there are at most `max_nodes`: such a run can run where it was created.
    bool touches_no_chain(std::size_t max_nodes) const;
};

/// The plan of `nodes` (a valid definition's nodes, blocks expanded), where `types[i]` is the
/// type of the i-th entry of `nodes`. Consumes `nodes`' props.
RunPlan compile_plan(boost::json::object nodes, const std::vector<NodeType>& types);

}  // namespace forkrun::controller
