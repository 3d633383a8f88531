// The block library: reusable sub-graphs read from one JSON file per block, and their expansion
// into a run's nodes at creation (API.md, node type `block`).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "controller/field_error.hpp"
#include "controller/node_types.hpp"

namespace forkrun::controller {

/// One block: `{"blockId", "description", "inputs": [like inputSchema], "entry", "exit",
/// "nodes": {...}}`. Its props may use `{{inputs.<key>}}` and `{{nodes.<subId>.output...}}`.
struct BlockDef {
    std::string block_id;
    std::string description;
    boost::json::value inputs;  ///< an inputSchema array (null: no inputs)
    std::string entry;
    std::string exit;
    boost::json::object nodes;
    std::vector<NodeType> types;  ///< the type of each of `nodes`, in its order
};

class BlockLibrary {
  public:
    /// Every `*.json` file of `dir`, in name order. Each problem names its file and JSON pointer;
    /// a file with problems adds no block.
    static BlockLibrary load_dir(const std::filesystem::path& dir,
                                 std::vector<std::string>& problems);

    /// Checks one parsed block file and adds it; `source` prefixes each problem (a file name).
    bool add(const boost::json::value& doc,
             std::string_view source,
             std::vector<std::string>& problems);

    const BlockDef* find(std::string_view block_id) const;
    std::vector<std::string> ids() const;
    std::size_t size() const { return blocks_.size(); }

  private:
    std::map<std::string, BlockDef, std::less<>> blocks_;
};

/// A definition's nodes with every `block` node expanded.
struct Expansion {
    /// What executes: the definition's nodes (edges into a block node `X` now lead to
    /// `X.<entry>`) plus each expansion's nodes `X.<subId>`, where `X.<exit>` leads to `X`, which
    /// keeps its own children and takes the exit node's output.
    boost::json::object nodes;
    /// `workflowDefinition.blockExpansions`: `{"X": {"blockId", "nodes": {"X.<subId>": ...}}}`.
    boost::json::object expansions;
    /// The types of the nodes the expansions added, in their order in `nodes` (after the
    /// definition's own nodes, whose types the definition's validation gave).
    std::vector<NodeType> types;
};

/// Expands the block nodes of a validated definition's `nodes` (`types`: the type of each, in
/// its order, as decode_workflow_definition gave them), adding every problem (unknown `blockId`,
/// props that do not fit the block's inputs, expanded props that do not fit their node type) to
/// `errors` with its JSON pointer. `max_nodes` bounds the expanded graph.
Expansion expand_blocks(const boost::json::object& nodes,
                        std::span<const NodeType> types,
                        const BlockLibrary* library,
                        bool is_simulation,
                        std::size_t max_nodes,
                        FieldErrors& errors);

/// The JSON pointer of node `id` in a run's definition: `/workflowDefinition/nodes/<id>`, or
/// `/workflowDefinition/blockExpansions/<X>/nodes/<X.sub>` for a node of an expansion.
std::string node_pointer(std::string_view id);

}  // namespace forkrun::controller
