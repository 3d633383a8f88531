// Expanding `block` nodes at run creation: each block node `X` becomes the nodes `X.<subId>` of
// its library block, with `{{inputs.k}}` replaced by X's props and the block's own node
// references renamed, spliced between X's parents and X itself.
#include <algorithm>
#include <optional>
#include <unordered_map>

#include "controller/block_library.hpp"
#include "controller/node_types.hpp"
#include "controller/templates.hpp"
#include "controller/workflow_validation.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

constexpr std::string_view kExpansionsPath = "/workflowDefinition/blockExpansions";
constexpr std::size_t kMaxIdsListed = 20;

/// One block node being expanded: its id and the values its props give the block's inputs.
struct Instance {
    std::string_view prefix;
    const json::object* given;
};

std::string expanded_id(std::string_view prefix, std::string_view sub) {
    std::string id(prefix);
    id.push_back('.');
    id.append(sub);
    return id;
}

// The string `s` of a block file instantiated for one block node; nothing when `s` is exactly
// an input the block node does not give (the prop is then left out, as if never written).
std::optional<json::value> instantiate_string(const json::string& s, const Instance& in) {
    const std::string_view text(s.data(), s.size());
    if (!has_templates(text)) {
        return json::value(s);
    }
    auto pieces = parse_template_string(text);
    if (!pieces) {
        return json::value(s);  // block files are checked when loaded
    }
    auto input = [&](std::string_view key) -> const json::value* {
        const auto it = in.given->find(key);
        return it == in.given->end() ? nullptr : &it->value();
    };
    if (pieces->size() == 1 && pieces->front().ref &&
        pieces->front().ref->source == TemplateSource::kInputs) {
        const json::value* v = input(pieces->front().ref->name);
        return v ? std::optional<json::value>(*v) : std::nullopt;
    }
    std::string out;
    for (const TemplatePiece& piece : *pieces) {
        if (!piece.ref) {
            out.append(piece.text);
        } else if (piece.ref->source == TemplateSource::kInputs) {
            if (const json::value* v = input(piece.ref->name)) {
                out.append(template_text(*v));
            }
        } else if (piece.ref->source == TemplateSource::kNodeOutput) {
            out.append("{{nodes.").append(expanded_id(in.prefix, piece.ref->name));
            out.append(".output");
            for (std::string_view field : piece.ref->fields) {
                out.push_back('.');
                out.append(field);
            }
            out.append("}}");
        } else {
            out.append(piece.text);
        }
    }
    return json::value(json::string(out));
}

json::value instantiate(const json::value& v, const Instance& in) {
    if (const json::object* o = v.if_object()) {
        json::object out;
        for (const auto& entry : *o) {
            if (const json::string* s = entry.value().if_string()) {
                if (auto r = instantiate_string(*s, in)) {
                    out.emplace(entry.key(), std::move(*r));
                }
            } else {
                out.emplace(entry.key(), instantiate(entry.value(), in));
            }
        }
        return out;
    }
    if (const json::array* a = v.if_array()) {
        json::array out;
        for (const json::value& element : *a) {
            out.push_back(instantiate(element, in));
        }
        return out;
    }
    if (const json::string* s = v.if_string()) {
        auto r = instantiate_string(*s, in);
        return r ? std::move(*r) : json::value();
    }
    return v;
}

std::string unknown_block(std::string_view id, const BlockLibrary* library) {
    std::string message = "unknown block " + in_quotes(id);
    const std::vector<std::string> known = library ? library->ids() : std::vector<std::string>{};
    if (known.empty()) {
        return message + "; the block library is empty";
    }
    message.append("; the library has ");
    for (std::size_t i = 0; i < known.size() && i < kMaxIdsListed; ++i) {
        message.append(i == 0 ? "" : ", ").append(known[i]);
    }
    if (known.size() > kMaxIdsListed) {
        message.append(", ...");
    }
    return message;
}

// The sub-graph of block `def` for block node `x`, or nothing (with errors) when x's props do
// not fit it.
std::optional<json::object> expand_one(std::string_view x,
                                       const json::object& props,
                                       const BlockDef& def,
                                       bool is_simulation,
                                       FieldErrors& errors) {
    const std::string props_path =
        pointer_append(pointer_append("/workflowDefinition/nodes", x), "props");
    const json::value* given_value = props.if_contains("props");
    const json::object no_inputs;
    const json::object* given =
        given_value && given_value->is_object() ? &given_value->get_object() : &no_inputs;
    const std::size_t before = errors.size();
    const FieldErrors input_errors =
        validate_prop_values(given_value, &def.inputs, pointer_append(props_path, "props"),
                             "the inputs of block " + in_quotes(def.block_id), true);
    errors.insert(errors.end(), input_errors.begin(), input_errors.end());
    if (errors.size() != before) {
        return std::nullopt;
    }
    const Instance in{x, given};
    json::object out;
    for (std::size_t k = 0; k < def.nodes.size(); ++k) {
        const std::string_view sub = def.nodes.begin()[k].key();
        const json::object& node = def.nodes.begin()[k].value().as_object();
        json::object expanded;
        expanded["type"] = node.at("type");
        json::array children;
        if (const json::value* kids = node.if_contains("children"); kids && kids->is_array()) {
            for (const json::value& kid : kids->get_array()) {
                children.emplace_back(expanded_id(x, kid.get_string()));
            }
        }
        if (sub == def.exit) {
            children.emplace_back(x);
        }
        expanded["children"] = std::move(children);
        const json::value* sub_props = node.if_contains("props");
        json::value instantiated =
            sub_props ? instantiate(*sub_props, in) : json::value(json::object());
        const std::string id = expanded_id(x, sub);
        FieldErrors node_errors;
        check_props(def.types[k], instantiated, pointer_append(node_pointer(id), "props"),
                    is_simulation, node_errors);
        for (FieldError& e : node_errors) {
            e.message =
                "block " + in_quotes(def.block_id) + ", node " + in_quotes(sub) + ": " + e.message;
            errors.push_back(std::move(e));
        }
        expanded["props"] = std::move(instantiated);
        out.emplace(id, std::move(expanded));
    }
    return out;
}

}  // namespace

std::string node_pointer(std::string_view id) {
    const std::size_t dot = id.find('.');
    if (dot == std::string_view::npos) {
        return pointer_append("/workflowDefinition/nodes", id);
    }
    return pointer_append(
        pointer_append(pointer_append(kExpansionsPath, id.substr(0, dot)), "nodes"), id);
}

Expansion expand_blocks(const json::object& nodes,
                        std::span<const NodeType> types,
                        const BlockLibrary* library,
                        bool is_simulation,
                        std::size_t max_nodes,
                        FieldErrors& errors) {
    Expansion out;
    out.nodes = nodes;
    // Block node -> the id its parents now lead to.
    std::unordered_map<std::string, std::string> entry_of;
    std::size_t total = nodes.size();
    std::size_t at = 0;
    for (const auto& [x, node_value] : nodes) {
        if (types[at++] != NodeType::kBlock) {
            continue;
        }
        const json::object& node = node_value.as_object();
        const json::value* props_value = node.if_contains("props");
        const json::object& props = props_value->as_object();
        const std::string id_path = pointer_append(
            pointer_append(pointer_append("/workflowDefinition/nodes", x), "props"), "blockId");
        const json::string& block_id = props.at("blockId").as_string();
        if (has_templates(std::string_view(block_id.data(), block_id.size()))) {
            errors.push_back({id_path, "blockId must name a block, not hold a template"});
            continue;
        }
        const BlockDef* def = library ? library->find(block_id) : nullptr;
        if (def == nullptr) {
            errors.push_back({id_path, unknown_block(block_id, library)});
            continue;
        }
        auto expanded = expand_one(x, props, *def, is_simulation, errors);
        if (!expanded) {
            continue;
        }
        total += expanded->size();
        entry_of.emplace(std::string(x), expanded_id(x, def->entry));
        for (const auto& entry : *expanded) {
            out.nodes.emplace(entry.key(), entry.value());
        }
        out.types.insert(out.types.end(), def->types.begin(), def->types.end());
        out.expansions.emplace(
            x, json::object{{"blockId", def->block_id}, {"nodes", std::move(*expanded)}});
    }
    if (total > max_nodes) {
        errors.push_back(
            {"/workflowDefinition/nodes", "a workflow has at most " + std::to_string(max_nodes) +
                                              " nodes; with its blocks expanded this one has " +
                                              std::to_string(total)});
    }
    if (entry_of.empty()) {
        return out;
    }
    // Edges into a block node now lead to its entry; the block node follows its exit.
    for (const auto& [id, node_value] : nodes) {
        json::object& node = out.nodes.at(id).as_object();
        json::value* kids = node.if_contains("children");
        if (kids == nullptr || !kids->is_array()) {
            continue;
        }
        for (json::value& kid : kids->get_array()) {
            const auto it = entry_of.find(std::string(kid.get_string()));
            if (it != entry_of.end()) {
                kid = json::string(it->second);
            }
        }
    }
    return out;
}

}  // namespace forkrun::controller
