// JSON-RPC 2.0 request bodies as a gateway reads them: parsed once, every call checked, and
// written back from what was parsed, so what a fork executes is exactly what was metered.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace forkrun::forks {

/// JSON-RPC error codes the gateway answers with.
inline constexpr int kParseErrorCode = -32700;
inline constexpr int kInvalidRequestCode = -32600;
inline constexpr int kLimitExceededCode = -32005;  ///< EIP-1474: a limit of the server.

/// Limits of what a gateway parses.
struct JsonRpcLimits {
    std::size_t max_depth = 64;    ///< Nesting of arrays and objects, the batch included.
    std::size_t max_batch = 1000;  ///< Calls in one batch.
    /// JSON values in one body (about 40 bytes of memory each once parsed): a 1 MiB body of
    /// 350,000 `{}` must not become a 400 MB tree.
    std::size_t max_values = 100000;
};

/// One element of a request body.
struct JsonRpcCall {
    /// Only "jsonrpc", "id" (when present), "method" and "params" (when present), as parsed.
    boost::json::object request;
    std::string method;
    boost::json::value id;      ///< null when absent
    bool notification = false;  ///< No "id": no answer is expected.
    std::string invalid;  ///< Why it is not a valid call (then answer -32600); empty if valid.

    const boost::json::value* params() const { return request.if_contains("params"); }
};

/// A parsed body: one call, or a batch of them.
struct JsonRpcBody {
    bool batch = false;
    /// More calls than max_batch: every call is `invalid`, saying so (answer 413).
    bool over_batch_limit = false;
    std::vector<JsonRpcCall> calls;
};

/// Why a body could not be read at all: an error object for the whole body (id null).
struct JsonRpcBodyError {
    int code = kParseErrorCode;
    std::string message;
};

/// Parses and checks a request body. A body that is not JSON, is nested deeper than the limit,
/// holds a number out of a double's range, or is an empty batch is an error for the whole body;
/// a batch element that is not a valid call is marked `invalid`, the others stay usable.
boost::system::result<JsonRpcBody, JsonRpcBodyError> parse_jsonrpc_body(
    std::string_view body,
    const JsonRpcLimits& limits);

/// `{"jsonrpc":"2.0","id":<id>,"error":{"code":<code>,"message":<message>}}`.
std::string jsonrpc_error(const boost::json::value& id, int code, std::string_view message);

}  // namespace forkrun::forks
