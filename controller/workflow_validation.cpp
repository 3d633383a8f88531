// Validation of a workflowDefinition (POST /v1/runs): its keys and each node's type, props and
// children; the graph and the inputSchema are checked in workflow_graph.cpp and input_schema.cpp.
#include "controller/workflow_validation.hpp"

#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "controller/workflow_validation_internal.hpp"

namespace forkrun::controller {

namespace json = boost::json;

using detail::kNone;
using detail::kRoot;
using detail::unknown_key;
using detail::view;

namespace {

// The node's type as parsed (kManual where it has none that is known), its problems reported.
NodeType check_type(std::string_view id,
                    const json::object& node,
                    const std::string& node_path,
                    const ValidationOptions& opts,
                    FieldErrors& errors) {
    const std::string type_path = pointer_append(node_path, "type");
    const json::value* type_value = node.if_contains("type");
    // A flag beside a plain value rather than std::optional: GCC 12 warns falsely on the latter.
    NodeType type = NodeType::kManual;
    bool known = false;
    if (type_value == nullptr) {
        errors.push_back({type_path, "type is required"});
    } else if (!type_value->is_string()) {
        errors.push_back({type_path, "type must be a string"});
    } else {
        const std::string_view name = view(type_value->get_string());
        bool manual = false;
        if (const std::optional<NodeType> parsed = parse_node_type(name)) {
            type = *parsed;
            known = opts.enabled.contains(type);
            manual = type == NodeType::kManual;
        }
        if (id == kRoot && !manual) {
            errors.push_back({type_path, "root must be of type manual"});
        } else if (!known) {
            errors.push_back({type_path, "unknown node type " + in_quotes(name)});
        } else if (id != kRoot && type == NodeType::kManual) {
            errors.push_back({type_path, "only root can be of type manual"});
        }
    }
    const json::value* props = node.if_contains("props");
    const std::string props_path = pointer_append(node_path, "props");
    if (props != nullptr && props->is_null()) {
        errors.push_back({props_path, "props must be an object, not null (or left out)"});
        props = nullptr;
    }
    if (known) {
        // Both branches lvalues: a temporary here would deep-copy the props.
        const json::value no_props;
        check_props(type, props == nullptr ? no_props : *props, props_path, opts.is_simulation,
                    errors, opts.allow_inputs);
    } else if (props != nullptr && !props->is_null() && !props->is_object()) {
        errors.push_back({props_path, "props must be an object"});
    }
    return type;
}

void check_children(std::size_t self,
                    const json::object& nodes,
                    const json::object& node,
                    const std::string& node_path,
                    std::vector<std::size_t>& last_parent,
                    FieldErrors& errors) {
    const json::value* kids = node.if_contains("children");
    if (kids == nullptr) {
        return;
    }
    const std::string children_path = pointer_append(node_path, "children");
    if (kids->is_null()) {
        errors.push_back({children_path, "children must be an array of node ids, not null"});
        return;
    }
    const json::array* list = kids->if_array();
    if (list == nullptr) {
        errors.push_back({children_path, "children must be an array of node ids"});
        return;
    }
    for (std::size_t j = 0; j < list->size(); ++j) {
        const json::string* id = (*list)[j].if_string();
        if (id == nullptr) {
            errors.push_back({pointer_append(children_path, j), "a child must be a node id"});
            continue;
        }
        const auto it = nodes.find(view(*id));
        if (it == nodes.end()) {
            errors.push_back(
                {pointer_append(children_path, j), in_quotes(view(*id)) + " is not a node"});
            continue;
        }
        const auto c = static_cast<std::size_t>(it - nodes.begin());
        if (c == self) {
            errors.push_back({pointer_append(children_path, j), "a node cannot be its own child"});
        } else if (last_parent[c] == self) {
            errors.push_back(
                {pointer_append(children_path, j), "duplicate child " + in_quotes(view(*id))});
        } else {
            last_parent[c] = self;
        }
    }
}

void check_nodes(const json::object& nodes,
                 const std::string& nodes_path,
                 const ValidationOptions& opts,
                 std::vector<NodeType>& types,
                 FieldErrors& errors) {
    if (nodes.size() > opts.max_nodes) {
        errors.push_back({nodes_path, "a workflow has at most " + std::to_string(opts.max_nodes) +
                                          " nodes; this one has " + std::to_string(nodes.size())});
        return;
    }
    std::vector<std::size_t> last_parent(nodes.size(), kNone);
    types.assign(nodes.size(), NodeType::kManual);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const json::key_value_pair& entry = nodes.begin()[i];
        const std::string_view id = entry.key();
        const std::string node_path = pointer_append(nodes_path, id);
        if (!is_valid_id(id)) {
            errors.push_back({node_path, "node id must be 1-64 characters of [A-Za-z0-9_-]"});
        }
        const json::object* node = entry.value().if_object();
        if (node == nullptr) {
            errors.push_back({node_path, "a node must be an object"});
            continue;
        }
        for (const auto& field : *node) {
            const std::string_view name = field.key();
            if (name != "type" && name != "children" && name != "props") {
                errors.push_back({pointer_append(node_path, name), unknown_key(name)});
            }
        }
        types[i] = check_type(id, *node, node_path, opts, errors);
        check_children(i, nodes, *node, node_path, last_parent, errors);
    }
    detail::check_graph(nodes, nodes_path, errors);
}

}  // namespace

FieldErrors validate_workflow_definition(const json::value& def, const ValidationOptions& opts) {
    auto decoded = decode_workflow_definition(def, opts);
    return decoded ? FieldErrors{} : std::move(decoded.error());
}

boost::system::result<std::vector<NodeType>, FieldErrors> decode_workflow_definition(
    const json::value& def,
    const ValidationOptions& opts) {
    FieldErrors errors;
    std::vector<NodeType> types;
    const std::string& base = opts.base_path;
    const json::object* object = def.if_object();
    if (object == nullptr) {
        errors.push_back({base, "workflowDefinition must be an object"});
        return errors;
    }
    for (const auto& entry : *object) {
        const std::string_view key = entry.key();
        if (key == "blockExpansions") {
            errors.push_back({pointer_append(base, key),
                              "blockExpansions is set by the controller and cannot be supplied"});
        } else if (key != "nodes" && key != "inputSchema") {
            errors.push_back({pointer_append(base, key), unknown_key(key)});
        } else if (key == "inputSchema" && entry.value().is_null()) {
            errors.push_back({pointer_append(base, key), "inputSchema must be an array, not null"});
        }
    }
    const std::string nodes_path = pointer_append(base, "nodes");
    const json::value* nodes = object->if_contains("nodes");
    if (nodes == nullptr) {
        errors.push_back({nodes_path, "nodes is required"});
    } else if (!nodes->is_object()) {
        errors.push_back({nodes_path, "nodes must be an object keyed by node id"});
    } else {
        check_nodes(nodes->get_object(), nodes_path, opts, types, errors);
    }
    detail::check_input_schema(object->if_contains("inputSchema"),
                               pointer_append(base, "inputSchema"), errors);
    if (!errors.empty()) {
        return errors;
    }
    return types;
}

}  // namespace forkrun::controller
