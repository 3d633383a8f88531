// The inputSchema of a workflowDefinition: reading and checking it, and propValues against it.
#include <array>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>

#include "controller/templates.hpp"
#include "controller/workflow_validation.hpp"
#include "controller/workflow_validation_internal.hpp"

namespace forkrun::controller {

namespace json = boost::json;

using detail::unknown_key;
using detail::view;

namespace {

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
                report(pointer_append(entry_path, "key"), "duplicate key " + in_quotes(parsed.key));
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

}  // namespace

void detail::check_input_schema(const json::value* schema,
                                std::string_view path,
                                FieldErrors& errors) {
    read_schema(schema, path, &errors);
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
                errors.push_back(
                    {pointer_append(base_path, key),
                     in_quotes(key) + " is not declared in " + std::string(schema_name)});
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

}  // namespace forkrun::controller
