// Node type names and the per-type props rules of the API's "Workflow nodes" table.
#include "controller/node_types.hpp"

#include <array>
#include <span>
#include <string>

#include <boost/json/object.hpp>

#include "controller/templates.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, kNodeTypeCount> kNames = {
    "manual", "rpc", "call", "transfer", "sendTransaction", "setBalance", "wait", "assert", "block",
};

/// What a prop's value must be.
enum class Kind {
    kPositiveInteger,
    kNonEmptyString,
    kArray,
    kObject,
    kAddress,
    kHexData,
    kBlockTag,
    kWei,
    kSigner,
    kSeconds,
    kAny,
};

struct PropSpec {
    std::string_view name;
    Kind kind;
    bool required;
};

constexpr PropSpec kRpcProps[] = {
    {"chainId", Kind::kPositiveInteger, true},
    {"method", Kind::kNonEmptyString, true},
    {"params", Kind::kArray, false},
};
constexpr PropSpec kCallProps[] = {
    {"chainId", Kind::kPositiveInteger, true},
    {"to", Kind::kAddress, true},
    {"data", Kind::kHexData, true},
    {"from", Kind::kAddress, false},
    {"block", Kind::kBlockTag, false},
};
constexpr PropSpec kTransferProps[] = {
    {"chainId", Kind::kPositiveInteger, true},
    {"to", Kind::kAddress, true},
    {"valueWei", Kind::kWei, true},
    {"signer", Kind::kSigner, false},
};
constexpr PropSpec kSendTransactionProps[] = {
    {"chainId", Kind::kPositiveInteger, true},
    {"to", Kind::kAddress, true},
    {"data", Kind::kHexData, true},
    {"valueWei", Kind::kWei, false},
    {"signer", Kind::kSigner, false},
    {"gasLimit", Kind::kPositiveInteger, false},
};
constexpr PropSpec kSetBalanceProps[] = {
    {"chainId", Kind::kPositiveInteger, true},
    {"address", Kind::kAddress, true},
    {"valueWei", Kind::kWei, true},
};
constexpr PropSpec kWaitProps[] = {
    {"seconds", Kind::kSeconds, false},
    {"blocks", Kind::kPositiveInteger, false},
    {"chainId", Kind::kPositiveInteger, false},
};
constexpr PropSpec kAssertProps[] = {
    {"value", Kind::kAny, true}, {"equals", Kind::kAny, false}, {"notEquals", Kind::kAny, false},
    {"gte", Kind::kAny, false},  {"lte", Kind::kAny, false},
};
constexpr PropSpec kBlockProps[] = {
    {"blockId", Kind::kNonEmptyString, true},
    {"props", Kind::kObject, false},
};

constexpr std::string_view kComparators[] = {"equals", "notEquals", "gte", "lte"};

constexpr double kMaxWaitSeconds = 86400;

// 2^256 - 1: the largest value a transaction can carry.
constexpr std::string_view kMaxUint256 =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

std::span<const PropSpec> specs_for(NodeType type) {
    switch (type) {
        case NodeType::kManual:
            return {};
        case NodeType::kRpc:
            return kRpcProps;
        case NodeType::kCall:
            return kCallProps;
        case NodeType::kTransfer:
            return kTransferProps;
        case NodeType::kSendTransaction:
            return kSendTransactionProps;
        case NodeType::kSetBalance:
            return kSetBalanceProps;
        case NodeType::kWait:
            return kWaitProps;
        case NodeType::kAssert:
            return kAssertProps;
        case NodeType::kBlock:
            return kBlockProps;
    }
    return {};
}

bool is_hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_hex_digits(std::string_view s) {
    for (char c : s) {
        if (!is_hex_digit(c)) {
            return false;
        }
    }
    return true;
}

bool is_positive_integer(const json::value& v) {
    return (v.is_int64() && v.get_int64() > 0) || (v.is_uint64() && v.get_uint64() > 0);
}

bool is_address(std::string_view s) {
    return s.size() == 42 && s.starts_with("0x") && is_hex_digits(s.substr(2));
}

bool is_hex_data(std::string_view s) {
    return s.starts_with("0x") && s.size() % 2 == 0 && is_hex_digits(s.substr(2));
}

// A JSON-RPC quantity: "0x0", or 0x and hex digits without leading zeros.
bool is_hex_quantity(std::string_view s) {
    if (!s.starts_with("0x") || s.size() < 3 || !is_hex_digits(s.substr(2))) {
        return false;
    }
    return s == "0x0" || s[2] != '0';
}

bool is_block_tag(const json::value& v) {
    if (v.is_uint64() || (v.is_int64() && v.get_int64() >= 0)) {
        return true;
    }
    const json::string* s = v.if_string();
    if (s == nullptr) {
        return false;
    }
    const std::string_view text(s->data(), s->size());
    return text == "latest" || text == "pending" || text == "earliest" || text == "safe" ||
           text == "finalized" || is_hex_quantity(text);
}

bool is_wei(std::string_view s) {
    if (s.empty() || s.size() > kMaxUint256.size()) {
        return false;
    }
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return s.size() < kMaxUint256.size() || s <= kMaxUint256;
}

bool is_seconds(const json::value& v) {
    if (v.is_int64()) {
        return v.get_int64() >= 0 && v.get_int64() <= static_cast<std::int64_t>(kMaxWaitSeconds);
    }
    if (v.is_uint64()) {
        return v.get_uint64() <= static_cast<std::uint64_t>(kMaxWaitSeconds);
    }
    if (v.is_double()) {
        // Written so that NaN fails too.
        return v.get_double() >= 0 && v.get_double() <= kMaxWaitSeconds;
    }
    return false;
}

std::string_view string_of(const json::value& v) {
    const json::string* s = v.if_string();
    return s == nullptr ? std::string_view() : std::string_view(s->data(), s->size());
}

/// Whether `v` fits `kind`; templates are handled by the caller.
bool fits(Kind kind, const json::value& v) {
    switch (kind) {
        case Kind::kPositiveInteger:
            return is_positive_integer(v);
        case Kind::kNonEmptyString:
            return v.is_string() && !v.get_string().empty();
        case Kind::kArray:
            return v.is_array();
        case Kind::kObject:
            return v.is_object();
        case Kind::kAddress:
            return v.is_string() && is_address(string_of(v));
        case Kind::kHexData:
            return v.is_string() && is_hex_data(string_of(v));
        case Kind::kBlockTag:
            return is_block_tag(v);
        case Kind::kWei:
            return v.is_string() && is_wei(string_of(v));
        case Kind::kSigner:
            return v.is_string() && is_valid_id(string_of(v));
        case Kind::kSeconds:
            return is_seconds(v);
        case Kind::kAny:
            return true;
    }
    return false;
}

std::string_view expectation(Kind kind) {
    switch (kind) {
        case Kind::kPositiveInteger:
            return "a positive integer";
        case Kind::kNonEmptyString:
            return "a non-empty string";
        case Kind::kArray:
            return "an array";
        case Kind::kObject:
            return "an object";
        case Kind::kAddress:
            return "an address: 0x and 40 hex digits";
        case Kind::kHexData:
            return "0x and an even number of hex digits";
        case Kind::kBlockTag:
            return "a block tag (latest, pending, earliest, safe, finalized), a 0x-hex block "
                   "number "
                   "or a non-negative integer";
        case Kind::kWei:
            return "a decimal string of wei (digits only, at most 2^256 - 1)";
        case Kind::kSigner:
            return "a signer name: 1-64 characters of [A-Za-z0-9_-]";
        case Kind::kSeconds:
            return "a number of seconds from 0 to 86400";
        case Kind::kAny:
            break;
    }
    return "any JSON value";
}

std::string_view parent_pointer(std::string_view path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(0, slash);
}

std::string with_type(std::string message, NodeType type) {
    message.append(" for node type ").append(to_string(type));
    return message;
}

void check_wait(const json::object& props, std::string_view props_path, FieldErrors& errors) {
    const bool has_seconds = props.contains("seconds");
    const bool has_blocks = props.contains("blocks");
    if (!has_seconds && !has_blocks) {
        errors.push_back({std::string(props_path), "wait needs seconds, blocks or both"});
    }
    if (has_blocks && !props.contains("chainId")) {
        errors.push_back(
            {pointer_append(props_path, "chainId"), "chainId is required when blocks is set"});
    }
}

void check_assert(const json::object& props, std::string_view props_path, FieldErrors& errors) {
    std::string present;
    int count = 0;
    for (std::string_view comparator : kComparators) {
        if (props.contains(comparator)) {
            present.append(count == 0 ? "" : ", ").append(comparator);
            ++count;
        }
    }
    if (count == 1) {
        return;
    }
    std::string message = "assert needs exactly one of equals, notEquals, gte, lte";
    if (count > 1) {
        message.append("; got ").append(present);
    }
    errors.push_back({std::string(props_path), std::move(message)});
}

}  // namespace

bool is_valid_id(std::string_view s) {
    if (s.empty() || s.size() > 64) {
        return false;
    }
    for (char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

std::optional<NodeType> parse_node_type(std::string_view name) {
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        if (kNames[i] == name) {
            return static_cast<NodeType>(i);
        }
    }
    return std::nullopt;
}

std::string_view to_string(NodeType type) {
    const auto index = static_cast<std::size_t>(type);
    return index < kNames.size() ? kNames[index] : std::string_view("unknown");
}

void check_props(NodeType type,
                 const json::value& props,
                 std::string_view props_path,
                 bool is_simulation,
                 FieldErrors& errors,
                 bool allow_inputs) {
    if (type == NodeType::kSetBalance && !is_simulation) {
        errors.push_back({pointer_append(parent_pointer(props_path), "type"),
                          "setBalance is for simulations only"});
    }
    const json::object no_props;
    const json::object* object = props.is_null() ? &no_props : props.if_object();
    if (object == nullptr) {
        errors.push_back({std::string(props_path), "props must be an object"});
        return;
    }
    const std::span<const PropSpec> specs = specs_for(type);
    for (const auto& entry : *object) {
        const std::string_view key = entry.key();
        const std::string path = pointer_append(props_path, key);
        const PropSpec* spec = nullptr;
        for (const PropSpec& candidate : specs) {
            if (candidate.name == key) {
                spec = &candidate;
                break;
            }
        }
        if (spec == nullptr) {
            errors.push_back({path, with_type("unknown prop \"" + std::string(key) + "\"", type)});
            continue;
        }
        const std::size_t before = errors.size();
        collect_template_errors(entry.value(), path, errors, allow_inputs);
        const bool is_template =
            entry.value().is_string() && has_templates(string_of(entry.value()));
        if (is_template || errors.size() != before) {
            continue;
        }
        if (!fits(spec->kind, entry.value())) {
            std::string message(key);
            message.append(" must be ").append(expectation(spec->kind));
            errors.push_back({path, std::move(message)});
        }
    }
    for (const PropSpec& spec : specs) {
        if (spec.required && !object->contains(spec.name)) {
            errors.push_back({pointer_append(props_path, spec.name),
                              with_type(std::string(spec.name) + " is required", type)});
        }
    }
    if (type == NodeType::kWait) {
        check_wait(*object, props_path, errors);
    } else if (type == NodeType::kAssert) {
        check_assert(*object, props_path, errors);
    }
}

}  // namespace forkrun::controller
