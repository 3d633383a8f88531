// Parsing and checking JSON-RPC request bodies for the gateway.
#include "forks/jsonrpc_request.hpp"
#include "util/json_text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "forks/rpc_client.hpp"

namespace forkrun::forks {
namespace {

namespace json = boost::json;

// JSON-RPC 2.0: numbers SHOULD NOT have fractions; anvil answers such an id with null.
bool valid_id(const json::value& id) {
    return id.is_null() || id.is_string() || id.is_int64() || id.is_uint64();
}

// An upper bound on the values in `body`, without parsing it: one per comma and per opening
// bracket outside strings, plus one.
std::size_t count_values(std::string_view body) {
    std::size_t n = 1;
    bool in_string = false;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == ',' || c == '[' || c == '{') {
            ++n;
        }
    }
    return n;
}

JsonRpcCall read_call(json::value& element) {
    JsonRpcCall call;
    auto* obj = element.if_object();
    if (obj == nullptr) {
        call.invalid = "a JSON-RPC request must be an object";
        return call;
    }
    if (auto* id = obj->if_contains("id")) {
        if (valid_id(*id)) {
            call.id = std::move(*id);
        } else {
            call.invalid = "\"id\" must be a string, an integer or null";
        }
    } else {
        call.notification = true;
    }
    const auto* version = obj->if_contains("jsonrpc");
    const auto* method = obj->if_contains("method");
    auto* params = obj->if_contains("params");
    if (!call.invalid.empty()) {
    } else if (version == nullptr || *version != "2.0") {
        call.invalid = "\"jsonrpc\" must be \"2.0\"";
    } else if (method == nullptr || !method->is_string() || method->get_string().empty()) {
        call.invalid = "\"method\" must be a non-empty string";
    } else if (params != nullptr && !params->is_array() && !params->is_object() &&
               !params->is_null()) {
        call.invalid = "\"params\" must be an array or an object";
    }
    if (!call.invalid.empty()) {
        return call;
    }
    call.method = std::string(method->get_string());
    call.request.reserve(4);
    call.request.emplace("jsonrpc", "2.0");
    if (!call.notification) {
        call.request.emplace("id", call.id);
    }
    call.request.emplace("method", call.method);
    if (params != nullptr && !params->is_null()) {
        call.request.emplace("params", std::move(*params));
    }
    return call;
}

}  // namespace

boost::system::result<JsonRpcBody, JsonRpcBodyError> parse_jsonrpc_body(
    std::string_view body,
    const JsonRpcLimits& limits) {
    if (const auto n = count_values(body); n > limits.max_values) {
        return JsonRpcBodyError{kLimitExceededCode, "the body holds about " + std::to_string(n) +
                                                        " JSON values, over the limit of " +
                                                        std::to_string(limits.max_values)};
    }
    json::parse_options opts;
    opts.max_depth = limits.max_depth;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec, {}, opts);
    if (ec) {
        return JsonRpcBodyError{kParseErrorCode, "the body is not JSON (" + ec.message() + ")"};
    }
    if (auto at = util::non_finite_number_in(body, v)) {
        return JsonRpcBodyError{kParseErrorCode,
                                "the body holds a number out of range at \"" + *at + "\""};
    }
    JsonRpcBody out;
    if (auto* arr = v.if_array()) {
        out.batch = true;
        if (arr->empty()) {
            return JsonRpcBodyError{kInvalidRequestCode, "an empty batch is not a request"};
        }
        out.calls.reserve(arr->size());
        for (auto& element : *arr) {
            out.calls.push_back(read_call(element));
        }
        if (arr->size() > limits.max_batch) {
            // Every call is answered with the limit, under its own id.
            out.over_batch_limit = true;
            const auto why = "a batch of " + std::to_string(arr->size()) +
                             " calls is over the limit of " + std::to_string(limits.max_batch);
            for (auto& call : out.calls) {
                call.invalid = why;
                call.request.clear();
            }
        }
    } else {
        out.calls.push_back(read_call(v));
    }
    return out;
}

std::string jsonrpc_error(const json::value& id, int code, std::string_view message) {
    std::string out;
    out.reserve(64 + message.size());
    out.append("{\"jsonrpc\":\"2.0\",\"id\":");
    out.append(json::serialize(id));
    out.append(",\"error\":{\"code\":");
    out.append(std::to_string(code));
    out.append(",\"message\":");
    out.append(json::serialize(json::string_view(message.data(), message.size())));
    out.append("}}");
    return out;
}

}  // namespace forkrun::forks
