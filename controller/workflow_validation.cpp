// Validation of workflowDefinition and propValues (POST /v1/runs), and the graph of valid nodes.
#include "controller/workflow_validation.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "controller/templates.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

constexpr std::string_view kRoot = "root";
constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
// Nodes named in a cycle message before the rest is elided.
constexpr std::size_t kMaxCycleShown = 16;

std::string_view view(const json::string& s) {
    return {s.data(), s.size()};
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    out.append(s).append("\"");
    return out;
}

std::string unknown_key(std::string_view key) {
    return "unknown key " + quoted(key);
}

// ---- inputSchema ----

enum class PropType { kString, kNumber, kBoolean, kObject, kArray };

constexpr std::array<std::pair<std::string_view, PropType>, 5> kPropTypes = {{
    {"string", PropType::kString},
    {"number", PropType::kNumber},
    {"boolean", PropType::kBoolean},
    {"object", PropType::kObject},
    {"array", PropType::kArray},
}};

std::optional<PropType> parse_prop_type(const json::value& v) {
    if (const json::string* s = v.if_string()) {
        for (const auto& [name, type] : kPropTypes) {
            if (name == view(*s)) {
                return type;
            }
        }
    }
    return std::nullopt;
}

bool has_type(const json::value& v, PropType type) {
    switch (type) {
        case PropType::kString:
            return v.is_string();
        case PropType::kNumber:
            return v.is_number();
        case PropType::kBoolean:
            return v.is_bool();
        case PropType::kObject:
            return v.is_object();
        case PropType::kArray:
            return v.is_array();
    }
    return false;
}

std::string_view with_article(PropType type) {
    switch (type) {
        case PropType::kString:
            return "a string";
        case PropType::kNumber:
            return "a number";
        case PropType::kBoolean:
            return "a boolean";
        case PropType::kObject:
            return "an object";
        case PropType::kArray:
            return "an array";
    }
    return "a value";
}

/// One inputSchema entry with a string key. Only what is valid in it is filled in.
struct SchemaEntry {
    std::string_view key;
    bool usable = false;  ///< a valid key, and its first declaration
    std::optional<PropType> type;
    std::optional<bool> required;  ///< nothing when `required` is not a boolean
};

struct Schema {
    bool is_array =
        false;  ///< false when the schema is not an array: nothing is known to be declared
    std::vector<SchemaEntry> entries;
};

/// Reads an inputSchema (null pointer or JSON null: an empty schema), reporting its problems when
/// `errors` is given. Validation and propValues checking share this one reading.
Schema read_schema(const json::value* schema, std::string_view path, FieldErrors* errors) {
    Schema out;
    if (schema == nullptr || schema->is_null()) {
        out.is_array = true;
        return out;
    }
    const json::array* entries = schema->if_array();
    if (entries == nullptr) {
        if (errors != nullptr) {
            errors->push_back({std::string(path), "inputSchema must be an array"});
        }
        return out;
    }
    out.is_array = true;
    std::unordered_set<std::string_view> seen;
    auto report = [&](std::string entry_path, std::string message) {
        if (errors != nullptr) {
            errors->push_back({std::move(entry_path), std::move(message)});
        }
    };
    for (std::size_t i = 0; i < entries->size(); ++i) {
        const std::string entry_path = pointer_append(path, i);
        const json::object* entry = (*entries)[i].if_object();
        if (entry == nullptr) {
            report(entry_path, "inputSchema entries must be objects");
            continue;
        }
        for (const auto& field : *entry) {
            const std::string_view name = field.key();
            if (name != "key" && name != "type" && name != "required" && name != "description") {
                report(pointer_append(entry_path, name), unknown_key(name));
            }
        }
        const json::value* key = entry->if_contains("key");
        const json::value* type = entry->if_contains("type");
        const json::value* required = entry->if_contains("required");
        const json::value* description = entry->if_contains("description");
        SchemaEntry parsed;
        if (key == nullptr) {
            report(pointer_append(entry_path, "key"), "key is required");
        } else if (!key->is_string() || !is_valid_id(view(key->get_string()))) {
            report(pointer_append(entry_path, "key"),
                   "key must be 1-64 characters of [A-Za-z0-9_-]");
        }
        if (key != nullptr && key->is_string()) {
            parsed.key = view(key->get_string());
            const bool first = seen.insert(parsed.key).second;
            parsed.usable = first && is_valid_id(parsed.key);
            if (!first) {
                report(pointer_append(entry_path, "key"), "duplicate key " + quoted(parsed.key));
            }
        }
        if (type == nullptr) {
            report(pointer_append(entry_path, "type"), "type is required");
        } else {
            parsed.type = parse_prop_type(*type);
            if (!parsed.type) {
                report(pointer_append(entry_path, "type"),
                       "type must be one of string, number, boolean, object, array");
            }
        }
        if (required == nullptr) {
            parsed.required = false;
        } else if (required->is_bool()) {
            parsed.required = required->get_bool();
        } else {
            report(pointer_append(entry_path, "required"), "required must be a boolean");
        }
        if (description != nullptr && !description->is_string()) {
            report(pointer_append(entry_path, "description"), "description must be a string");
        }
        if (key != nullptr && key->is_string()) {
            out.entries.push_back(parsed);
        }
    }
    return out;
}

// ---- graph ----

/// Children lists by position in `nodes`, without missing ids, self-edges or duplicates.
std::vector<std::vector<std::size_t>> edges_of(const json::object& nodes) {
    std::vector<std::vector<std::size_t>> children(nodes.size());
    std::vector<std::size_t> last_parent(nodes.size(), kNone);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const json::object* node = nodes.begin()[i].value().if_object();
        const json::value* kids = node == nullptr ? nullptr : node->if_contains("children");
        const json::array* list = kids == nullptr ? nullptr : kids->if_array();
        if (list == nullptr) {
            continue;
        }
        for (const json::value& kid : *list) {
            const json::string* id = kid.if_string();
            const auto it = id == nullptr ? nodes.end() : nodes.find(view(*id));
            if (it == nodes.end()) {
                continue;
            }
            const auto c = static_cast<std::size_t>(it - nodes.begin());
            if (c != i && last_parent[c] != i) {
                last_parent[c] = i;
                children[i].push_back(c);
            }
        }
    }
    return children;
}

/// The strongly connected components with more than one node (Tarjan, iterative).
std::vector<std::vector<std::size_t>> cyclic_components(
    const std::vector<std::vector<std::size_t>>& children) {
    const std::size_t n = children.size();
    std::vector<std::size_t> order(n, kNone);
    std::vector<std::size_t> low(n, 0);
    std::vector<bool> on_stack(n, false);
    std::vector<std::size_t> stack;
    struct Frame {
        std::size_t node;
        std::size_t next_child;
    };
    std::vector<Frame> frames;
    std::vector<std::vector<std::size_t>> components;
    std::size_t counter = 0;
    auto enter = [&](std::size_t v) {
        order[v] = low[v] = counter++;
        stack.push_back(v);
        on_stack[v] = true;
        frames.push_back({v, 0});
    };
    for (std::size_t start = 0; start < n; ++start) {
        if (order[start] != kNone) {
            continue;
        }
        enter(start);
        while (!frames.empty()) {
            const std::size_t v = frames.back().node;
            if (frames.back().next_child < children[v].size()) {
                const std::size_t w = children[v][frames.back().next_child++];
                if (order[w] == kNone) {
                    enter(w);
                } else if (on_stack[w]) {
                    low[v] = std::min(low[v], order[w]);
                }
                continue;
            }
            frames.pop_back();
            if (!frames.empty()) {
                const std::size_t parent = frames.back().node;
                low[parent] = std::min(low[parent], low[v]);
            }
            if (low[v] != order[v]) {
                continue;
            }
            std::vector<std::size_t> component;
            std::size_t w = kNone;
            do {
                w = stack.back();
                stack.pop_back();
                on_stack[w] = false;
                component.push_back(w);
            } while (w != v);
            if (component.size() > 1) {
                components.push_back(std::move(component));
            }
        }
    }
    return components;
}

/// "a -> b -> a": a shortest cycle through the component's smallest id (breadth-first search
/// inside the component), so the message is short and the same for the same input.
std::string describe_cycle(const json::object& nodes,
                           const std::vector<std::vector<std::size_t>>& children,
                           const std::vector<std::size_t>& component,
                           std::vector<std::size_t>& member_of,
                           std::vector<std::size_t>& previous,
                           std::size_t component_number) {
    auto id = [&](std::size_t i) { return std::string_view(nodes.begin()[i].key()); };
    std::size_t start = component.front();
    for (std::size_t v : component) {
        member_of[v] = component_number;
        previous[v] = kNone;
        if (id(v) < id(start)) {
            start = v;
        }
    }
    std::queue<std::size_t> queue;
    queue.push(start);
    std::size_t last = kNone;
    while (!queue.empty() && last == kNone) {
        const std::size_t u = queue.front();
        queue.pop();
        for (std::size_t w : children[u]) {
            if (member_of[w] != component_number) {
                continue;
            }
            if (w == start) {
                last = u;
                break;
            }
            if (previous[w] == kNone) {
                previous[w] = u;
                queue.push(w);
            }
        }
    }
    std::vector<std::size_t> cycle;
    for (std::size_t v = last; v != kNone && v != start; v = previous[v]) {
        cycle.push_back(v);
    }
    cycle.push_back(start);
    std::reverse(cycle.begin(), cycle.end());
    std::string message = "nodes form a cycle: ";
    for (std::size_t i = 0; i < cycle.size() && i < kMaxCycleShown; ++i) {
        message.append(id(cycle[i])).append(" -> ");
    }
    if (cycle.size() > kMaxCycleShown) {
        message.append("... (")
            .append(std::to_string(cycle.size() - kMaxCycleShown))
            .append(" more) -> ");
    }
    message.append(id(start));
    return message;
}

void check_graph(const json::object& nodes, std::string_view nodes_path, FieldErrors& errors) {
    const std::vector<std::vector<std::size_t>> children = edges_of(nodes);
    const std::size_t n = nodes.size();

    const std::vector<std::vector<std::size_t>> components = cyclic_components(children);
    std::vector<std::pair<std::string_view, std::string>> cycles;
    std::vector<std::size_t> member_of(n, kNone);
    std::vector<std::size_t> previous(n, kNone);
    for (std::size_t c = 0; c < components.size(); ++c) {
        std::string message =
            describe_cycle(nodes, children, components[c], member_of, previous, c);
        std::string_view smallest = nodes.begin()[components[c].front()].key();
        for (std::size_t v : components[c]) {
            smallest = std::min(smallest, std::string_view(nodes.begin()[v].key()));
        }
        cycles.emplace_back(smallest, std::move(message));
    }
    std::sort(cycles.begin(), cycles.end());
    for (auto& [smallest, message] : cycles) {
        errors.push_back({std::string(nodes_path), std::move(message)});
    }

    const auto root = nodes.find(kRoot);
    if (root == nodes.end()) {
        errors.push_back({pointer_append(nodes_path, kRoot),
                          "a node \"root\" of type manual is required: it triggers the run"});
        return;
    }
    std::vector<bool> reached(n, false);
    std::vector<std::size_t> pending = {static_cast<std::size_t>(root - nodes.begin())};
    reached[pending.front()] = true;
    while (!pending.empty()) {
        const std::size_t u = pending.back();
        pending.pop_back();
        for (std::size_t w : children[u]) {
            if (!reached[w]) {
                reached[w] = true;
                pending.push_back(w);
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (!reached[i]) {
            errors.push_back({pointer_append(nodes_path, nodes.begin()[i].key()),
                              "node is not reachable from root"});
        }
    }
}

// ---- nodes ----

void check_type(std::string_view id,
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
        if (const std::optional<NodeType> parsed = parse_node_type(name)) {
            type = *parsed;
            known = opts.enabled.contains(type);
        }
        if (id == kRoot && name != to_string(NodeType::kManual)) {
            errors.push_back({type_path, "root must be of type manual"});
        } else if (!known) {
            errors.push_back({type_path, "unknown node type " + quoted(name)});
        } else if (id != kRoot && type == NodeType::kManual) {
            errors.push_back({type_path, "only root can be of type manual"});
        }
    }
    const json::value* props = node.if_contains("props");
    const std::string props_path = pointer_append(node_path, "props");
    if (known) {
        // Both branches lvalues: a temporary here would deep-copy the props.
        const json::value no_props;
        check_props(type, props == nullptr ? no_props : *props, props_path, opts.is_simulation,
                    errors, opts.allow_inputs);
    } else if (props != nullptr && !props->is_null() && !props->is_object()) {
        errors.push_back({props_path, "props must be an object"});
    }
}

void check_children(std::size_t self,
                    const json::object& nodes,
                    const json::object& node,
                    const std::string& node_path,
                    std::vector<std::size_t>& last_parent,
                    FieldErrors& errors) {
    const json::value* kids = node.if_contains("children");
    if (kids == nullptr || kids->is_null()) {
        return;
    }
    const std::string children_path = pointer_append(node_path, "children");
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
                {pointer_append(children_path, j), quoted(view(*id)) + " is not a node"});
            continue;
        }
        const auto c = static_cast<std::size_t>(it - nodes.begin());
        if (c == self) {
            errors.push_back({pointer_append(children_path, j), "a node cannot be its own child"});
        } else if (last_parent[c] == self) {
            errors.push_back(
                {pointer_append(children_path, j), "duplicate child " + quoted(view(*id))});
        } else {
            last_parent[c] = self;
        }
    }
}

void check_nodes(const json::object& nodes,
                 const std::string& nodes_path,
                 const ValidationOptions& opts,
                 FieldErrors& errors) {
    if (nodes.size() > opts.max_nodes) {
        errors.push_back({nodes_path, "a workflow has at most " + std::to_string(opts.max_nodes) +
                                          " nodes; this one has " + std::to_string(nodes.size())});
        return;
    }
    std::vector<std::size_t> last_parent(nodes.size(), kNone);
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
        check_type(id, *node, node_path, opts, errors);
        check_children(i, nodes, *node, node_path, last_parent, errors);
    }
    check_graph(nodes, nodes_path, errors);
}

}  // namespace

FieldErrors validate_workflow_definition(const json::value& def, const ValidationOptions& opts) {
    FieldErrors errors;
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
        }
    }
    const std::string nodes_path = pointer_append(base, "nodes");
    const json::value* nodes = object->if_contains("nodes");
    if (nodes == nullptr) {
        errors.push_back({nodes_path, "nodes is required"});
    } else if (!nodes->is_object()) {
        errors.push_back({nodes_path, "nodes must be an object keyed by node id"});
    } else {
        check_nodes(nodes->get_object(), nodes_path, opts, errors);
    }
    read_schema(object->if_contains("inputSchema"), pointer_append(base, "inputSchema"), &errors);
    return errors;
}

FieldErrors validate_prop_values(const json::value* prop_values,
                                 const json::value* input_schema,
                                 std::string_view base_path,
                                 std::string_view schema_name,
                                 bool templates_fit) {
    FieldErrors errors;
    const json::object no_values;
    const json::object* values = &no_values;
    if (prop_values != nullptr && !prop_values->is_null()) {
        values = prop_values->if_object();
        if (values == nullptr) {
            errors.push_back({std::string(base_path), "propValues must be an object"});
            return errors;
        }
    }
    const Schema schema = read_schema(input_schema, {}, nullptr);
    std::unordered_map<std::string_view, const SchemaEntry*> declared;
    for (const SchemaEntry& entry : schema.entries) {
        declared.emplace(entry.key, &entry);
    }
    for (const auto& value : *values) {
        const std::string_view key = value.key();
        const auto it = declared.find(key);
        if (it == declared.end()) {
            if (schema.is_array) {
                errors.push_back({pointer_append(base_path, key),
                                  quoted(key) + " is not declared in " + std::string(schema_name)});
            }
            continue;
        }
        const SchemaEntry& entry = *it->second;
        const bool is_template = templates_fit && value.value().is_string() &&
                                 has_templates(view(value.value().get_string()));
        if (entry.usable && entry.type && !is_template && !has_type(value.value(), *entry.type)) {
            std::string message(key);
            message.append(" must be ").append(with_article(*entry.type));
            errors.push_back({pointer_append(base_path, key), std::move(message)});
        }
    }
    for (const SchemaEntry& entry : schema.entries) {
        if (entry.usable && entry.required == true && !values->contains(entry.key)) {
            errors.push_back(
                {pointer_append(base_path, entry.key),
                 std::string(entry.key) + " is required by " + std::string(schema_name)});
        }
    }
    return errors;
}

std::optional<std::size_t> Graph::find(std::string_view id) const {
    const auto it = index.find(id);
    if (it == index.end()) {
        return std::nullopt;
    }
    return it->second;
}

Graph build_graph(const json::object& nodes) {
    const std::size_t n = nodes.size();
    const std::vector<std::vector<std::size_t>> children = edges_of(nodes);
    auto id = [&](std::size_t i) { return std::string_view(nodes.begin()[i].key()); };

    std::vector<std::size_t> in_degree(n, 0);
    for (const auto& list : children) {
        for (std::size_t c : list) {
            ++in_degree[c];
        }
    }
    // Kahn's algorithm; the ready node that sorts first goes next, root before any other.
    using Ready = std::tuple<bool, std::string_view, std::size_t>;
    std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready;
    for (std::size_t i = 0; i < n; ++i) {
        if (in_degree[i] == 0) {
            ready.emplace(id(i) != kRoot, id(i), i);
        }
    }
    std::vector<std::size_t> order;
    order.reserve(n);
    std::vector<bool> placed(n, false);
    while (!ready.empty()) {
        const std::size_t u = std::get<2>(ready.top());
        ready.pop();
        order.push_back(u);
        placed[u] = true;
        for (std::size_t c : children[u]) {
            if (--in_degree[c] == 0) {
                ready.emplace(id(c) != kRoot, id(c), c);
            }
        }
    }
    if (order.size() < n) {
        std::vector<std::size_t> rest;
        for (std::size_t i = 0; i < n; ++i) {
            if (!placed[i]) {
                rest.push_back(i);
            }
        }
        std::sort(rest.begin(), rest.end(),
                  [&](std::size_t a, std::size_t b) { return id(a) < id(b); });
        order.insert(order.end(), rest.begin(), rest.end());
    }

    std::vector<std::size_t> position(n, 0);
    for (std::size_t p = 0; p < n; ++p) {
        position[order[p]] = p;
    }
    Graph graph;
    graph.ids.reserve(n);
    graph.children.resize(n);
    graph.parents.resize(n);
    for (std::size_t p = 0; p < n; ++p) {
        graph.ids.emplace_back(id(order[p]));
        graph.index.emplace(graph.ids.back(), p);
        for (std::size_t c : children[order[p]]) {
            graph.children[p].push_back(position[c]);
            graph.parents[position[c]].push_back(p);
        }
    }
    return graph;
}

std::vector<std::string> topological_order(const json::object& nodes) {
    return build_graph(nodes).ids;
}

}  // namespace forkrun::controller
