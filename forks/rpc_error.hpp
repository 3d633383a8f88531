// Failures of outbound JSON-RPC calls: an error enum with its category and a value type that
// carries a human sentence naming the chain and the method.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

namespace forkrun::forks {

/// Why a JSON-RPC call (or a raw POST) did not produce a result.
enum class RpcErrc {
    kTransport = 1,  ///< DNS, connect, TLS or socket failure; no HTTP reply.
    kTimeout,        ///< No complete reply within the call's timeout.
    kAborted,        ///< CallHandle::abort(), Asio cancellation, or the client was destroyed.
    kHttpStatus,     ///< The server answered with a non-2xx HTTP status.
    kBadResponse,    ///< The body is not JSON, not JSON-RPC, or over the size limit.
    kRpcError,       ///< The server answered with a JSON-RPC error object.
};

/// The category of RpcErrc ("forkrun.rpc").
const std::error_category& rpc_category() noexcept;

std::error_code make_error_code(RpcErrc e) noexcept;

/// A failed call. `message` is a complete sentence for a user, e.g.
/// "chain 8453: eth_call failed: execution reverted (JSON-RPC error 3)".
struct RpcError {
    RpcErrc code = RpcErrc::kTransport;
    std::string message;
    int http_status = 0;          ///< Set for kHttpStatus (and whenever a reply was received).
    std::int64_t rpc_code = 0;    ///< The JSON-RPC error code, for kRpcError.
    boost::json::value rpc_data;  ///< The JSON-RPC error `data` member, null when absent.
    bool too_large = false;       ///< kBadResponse because the reply passed the size limit.

    std::error_code error_code() const noexcept { return make_error_code(code); }
};

/// Lets `boost::system::result<T, RpcError>::value()` throw a std::system_error carrying the
/// message.
[[noreturn]] void throw_exception_from_error(const RpcError& e, const boost::source_location& loc);

}  // namespace forkrun::forks

template <>
struct std::is_error_code_enum<forkrun::forks::RpcErrc> : std::true_type {};
