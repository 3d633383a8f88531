// Reading and checking block-library files: each is validated like a workflow whose root leads to
// the block's entry, and its templates may name only its own inputs and nodes.
#include "controller/block_library.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include <boost/json/parse.hpp>

#include "controller/node_types.hpp"
#include "controller/templates.hpp"
#include "controller/workflow_validation.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

constexpr std::string_view kKeys[] = {"blockId", "description", "inputs", "entry", "exit", "nodes"};
// Sub-node ids a block may not use: `root` is the stand-in trigger of the check below, and
// `output` would make `{{nodes.X.output.output}}` ambiguous.
constexpr std::string_view kReservedIds[] = {"root", "output"};

// Adds a problem for every template in `v` (searched through nested values) that names something
// outside the block: a `{{props.x}}`, an undeclared input, or a node the block does not have.
void check_references(const json::value& v,
                      const std::string& path,
                      const json::object& nodes,
                      const json::value& inputs,
                      std::size_t depth,
                      FieldErrors& errors) {
    if (depth > kMaxTemplateDepth) {
        errors.push_back({path, "props nest deeper than " + std::to_string(kMaxTemplateDepth)});
        return;
    }
    if (const json::object* o = v.if_object()) {
        for (const auto& entry : *o) {
            check_references(entry.value(), pointer_append(path, entry.key()), nodes, inputs,
                             depth + 1, errors);
        }
        return;
    }
    if (const json::array* a = v.if_array()) {
        for (std::size_t i = 0; i < a->size(); ++i) {
            check_references((*a)[i], pointer_append(path, i), nodes, inputs, depth + 1, errors);
        }
        return;
    }
    const json::string* s = v.if_string();
    if (s == nullptr || !has_templates(std::string_view(s->data(), s->size()))) {
        return;
    }
    auto pieces = parse_template_string(std::string_view(s->data(), s->size()));
    if (!pieces) {
        return;  // reported by the workflow check
    }
    auto declared = [&](std::string_view key) {
        const json::array* list = inputs.if_array();
        if (list == nullptr) {
            return false;
        }
        return std::any_of(list->begin(), list->end(), [&](const json::value& e) {
            const json::object* o = e.if_object();
            const json::value* k = o ? o->if_contains("key") : nullptr;
            return k && k->is_string() && k->get_string() == key;
        });
    };
    for (const TemplatePiece& piece : *pieces) {
        if (!piece.ref) {
            continue;
        }
        const TemplateRef& ref = *piece.ref;
        if (ref.source == TemplateSource::kProps) {
            errors.push_back({path, std::string(piece.text) +
                                        ": a block takes its values through inputs, "
                                        "{{inputs.<key>}}, not {{props.<key>}}"});
        } else if (ref.source == TemplateSource::kInputs && !declared(ref.name)) {
            errors.push_back({path, std::string(piece.text) + ": the block declares no input " +
                                        in_quotes(ref.name)});
        } else if (ref.source == TemplateSource::kNodeOutput && !nodes.contains(ref.name)) {
            errors.push_back(
                {path, std::string(piece.text) + ": the block has no node " + in_quotes(ref.name)});
        }
    }
}

FieldErrors check_block(const json::value& doc, BlockDef& out) {
    FieldErrors errors;
    const json::object* o = doc.if_object();
    if (o == nullptr) {
        errors.push_back({"", "a block file must hold a JSON object"});
        return errors;
    }
    for (const auto& entry : *o) {
        if (std::find(std::begin(kKeys), std::end(kKeys), entry.key()) == std::end(kKeys)) {
            errors.push_back(
                {pointer_append("", entry.key()), "unknown field " + in_quotes(entry.key())});
        }
    }
    auto text = [&](std::string_view key, bool required, std::string& dst) {
        const json::value* v = o->if_contains(key);
        if (v == nullptr || v->is_null()) {
            if (required) {
                errors.push_back({pointer_append("", key), std::string(key) + " is required"});
            }
            return;
        }
        if (!v->is_string()) {
            errors.push_back({pointer_append("", key), std::string(key) + " must be a string"});
            return;
        }
        dst = std::string(v->get_string());
    };
    text("blockId", true, out.block_id);
    text("description", false, out.description);
    text("entry", true, out.entry);
    text("exit", true, out.exit);
    if (!out.block_id.empty() && !is_valid_id(out.block_id)) {
        errors.push_back({"/blockId", "blockId must be 1-64 characters of [A-Za-z0-9_-]"});
    }
    if (const json::value* inputs = o->if_contains("inputs")) {
        out.inputs = *inputs;
    }
    const json::value* nodes = o->if_contains("nodes");
    if (nodes == nullptr || !nodes->is_object() || nodes->get_object().empty()) {
        errors.push_back({"/nodes", "nodes must be a non-empty object keyed by node id"});
        return errors;
    }
    out.nodes = nodes->get_object();
    for (const auto& entry : out.nodes) {
        const std::string path = pointer_append("/nodes", entry.key());
        if (std::find(std::begin(kReservedIds), std::end(kReservedIds), entry.key()) !=
            std::end(kReservedIds)) {
            errors.push_back(
                {path, in_quotes(entry.key()) + " is reserved; name the node otherwise"});
        }
        const json::object* node = entry.value().if_object();
        const json::value* type = node ? node->if_contains("type") : nullptr;
        const json::string* type_name = type ? type->if_string() : nullptr;
        if (type_name && parse_node_type(std::string_view(type_name->data(), type_name->size())) ==
                             NodeType::kBlock) {
            errors.push_back({pointer_append(path, "type"), "a block cannot contain block nodes"});
        }
        const json::value* props = node ? node->if_contains("props") : nullptr;
        if (props != nullptr) {
            check_references(*props, pointer_append(path, "props"), out.nodes, out.inputs, 0,
                             errors);
        }
    }
    for (const std::string* end : {&out.entry, &out.exit}) {
        if (!end->empty() && !out.nodes.contains(*end)) {
            const char* key = end == &out.entry ? "/entry" : "/exit";
            errors.push_back({key, in_quotes(*end) + " is not a node of the block"});
        }
    }
    // The graph and every node's props, checked as a workflow whose root leads to the entry.
    json::object as_workflow;
    json::object all = out.nodes;
    if (!all.contains("root")) {
        all["root"] = json::object{{"type", "manual"}, {"children", json::array{out.entry}}};
    }
    as_workflow["nodes"] = std::move(all);
    if (!out.inputs.is_null()) {
        as_workflow["inputSchema"] = out.inputs;
    }
    ValidationOptions opts;
    opts.enabled = NodeTypeSet::all().erase(NodeType::kBlock);
    opts.is_simulation = true;  // a live run that uses a setBalance block is refused at creation
    opts.allow_inputs = true;
    opts.base_path = "";
    auto decoded = decode_workflow_definition(as_workflow, opts);
    if (decoded) {
        decoded->resize(out.nodes.size());  // less the root added above, which comes last
        out.types = std::move(*decoded);
        return errors;
    }
    for (FieldError& e : decoded.error()) {
        if (e.path == "/inputSchema" || e.path.starts_with("/inputSchema/")) {
            e.path.replace(0, std::string_view("/inputSchema").size(), "/inputs");
        }
        const bool about_block_type =
            e.path.ends_with("/type") && e.message == "unknown node type \"block\"";
        if (e.message == "node is not reachable from root") {
            e.message = "node is not reachable from the block's entry";
        }
        if (!about_block_type) {
            errors.push_back(std::move(e));
        }
    }
    return errors;
}

}  // namespace

BlockLibrary BlockLibrary::load_dir(const std::filesystem::path& dir,
                                    std::vector<std::string>& problems) {
    BlockLibrary library;
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") {
            files.push_back(entry.path());
        }
    }
    if (ec) {
        problems.push_back("block library " + dir.string() + ": " + ec.message());
        return library;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        std::ifstream in(file);
        std::stringstream text;
        text << in.rdbuf();
        boost::system::error_code parse_ec;
        const json::value doc = json::parse(text.str(), parse_ec);
        if (!in || parse_ec) {
            problems.push_back(file.string() + ": not a readable JSON file" +
                               (parse_ec ? ": " + parse_ec.message() : std::string()));
            continue;
        }
        library.add(doc, file.string(), problems);
    }
    return library;
}

bool BlockLibrary::add(const json::value& doc,
                       std::string_view source,
                       std::vector<std::string>& problems) {
    BlockDef def;
    FieldErrors errors = check_block(doc, def);
    if (errors.empty() && blocks_.contains(def.block_id)) {
        errors.push_back(
            {"/blockId", "another file already defines block " + in_quotes(def.block_id)});
    }
    for (const FieldError& e : errors) {
        problems.push_back(std::string(source) + ": " + (e.path.empty() ? "" : e.path + ": ") +
                           e.message);
    }
    if (!errors.empty()) {
        return false;
    }
    std::string id = def.block_id;
    blocks_.emplace(std::move(id), std::move(def));
    return true;
}

const BlockDef* BlockLibrary::find(std::string_view block_id) const {
    const auto it = blocks_.find(block_id);
    return it == blocks_.end() ? nullptr : &it->second;
}

std::vector<std::string> BlockLibrary::ids() const {
    std::vector<std::string> out;
    out.reserve(blocks_.size());
    for (const auto& [id, def] : blocks_) {
        out.push_back(id);
    }
    return out;
}

}  // namespace forkrun::controller
