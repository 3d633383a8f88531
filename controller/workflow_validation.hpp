// Validation of a run's workflowDefinition and propValues, and the node graph of a valid one.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include "controller/field_error.hpp"
#include "controller/node_types.hpp"

namespace forkrun::controller {

/// What a definition is validated against.
struct ValidationOptions {
    NodeTypeSet enabled;  ///< the node types this build executes; others count as unknown
    bool is_simulation = false;
    std::string base_path = "/workflowDefinition";  ///< JSON pointer of the definition
    std::size_t max_nodes = 10000;
    bool allow_inputs = false;  ///< `{{inputs.x}}` templates are valid (block-library files)
};

/// Every problem in a client-supplied workflowDefinition (API.md, POST /v1/runs), each with its
/// JSON pointer; empty when valid. Runs in O(nodes + edges) without recursion and never throws.
FieldErrors validate_workflow_definition(const boost::json::value& def,
                                         const ValidationOptions& opts);

/// The same check, keeping what it parsed: the type of each node of a valid definition, in the
/// order of its `nodes` object. The one place a node's `type` string is read.
boost::system::result<std::vector<NodeType>, FieldErrors> decode_workflow_definition(
    const boost::json::value& def,
    const ValidationOptions& opts);

/// Every problem in `prop_values` (null when the request has none) against `input_schema` (null
/// when the definition has none): required keys present, values of their declared type, no
/// undeclared keys. Schema entries that are themselves invalid are skipped, not second-guessed.
/// `schema_name` names the schema in messages; with `templates_fit`, a string holding a template
/// passes for any declared type (a block node's props, resolved only at run time).
FieldErrors validate_prop_values(const boost::json::value* prop_values,
                                 const boost::json::value* input_schema,
                                 std::string_view base_path = "/propValues",
                                 std::string_view schema_name = "inputSchema",
                                 bool templates_fit = false);

/// The node graph of a definition's `nodes`, in execution order: `ids[0]` is `root`, then a
/// topological order with ties broken by id. `children[i]` and `parents[i]` are indexes into
/// `ids`. Meant for a definition that passed validation; on any other input it still returns
/// (nodes it cannot order come last, by id; edges to missing nodes are dropped).
struct Graph {
    std::vector<std::string> ids;
    std::vector<std::vector<std::size_t>> children;
    std::vector<std::vector<std::size_t>> parents;
    std::map<std::string, std::size_t, std::less<>> index;  ///< id -> position in `ids`

    /// Position of `id` in `ids`, if it is a node.
    std::optional<std::size_t> find(std::string_view id) const;
};

Graph build_graph(const boost::json::object& nodes);

/// Node ids in execution order; the same as `build_graph(nodes).ids`.
std::vector<std::string> topological_order(const boost::json::object& nodes);

}  // namespace forkrun::controller
