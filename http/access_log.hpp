// The access log's line of one request, and the path it shows: never an rpcUrl's secret.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace forkrun::http {

/// The path of a request target as the access log shows it: no query, and nothing after an
/// `/rpc/` segment, where an rpcUrl's secret is (the line names the fork instead). A mistyped
/// rpcUrl (`/RPC/<secret>`, `/%72pc/...`, `/rpc;/...`) must not log its secret either: the path
/// is cut after the first "rpc" in any case (and its '/', if one follows), and at the first
/// percent-escape, with "<redacted>" in place of what was cut.
///
/// Byte by byte on purpose, not through Boost.URL: the target is logged whatever it holds, and
/// the ones a URL parser refuses (bytes RFC 3986 does not allow, a malformed escape) are exactly
/// those a hostile or broken client sends, whose secrets must stay out of the log all the same.
std::string loggable_path(std::string_view target);

/// What the access log records of one answered request.
struct AccessEntry {
    std::string_view request_id;
    std::string_view method;  ///< "-" when the request was refused before it was read whole
    std::string_view target;  ///< as sent; logged through loggable_path
    unsigned status = 0;
    std::int64_t microseconds = 0;  ///< from the request's head to the answer written
    std::string_view fork_id;       ///< the fork an rpcUrl reached; empty: none
};

/// The line `{"time":...,"event":"http.request","requestId":...,"method":...,"path":...,
/// ["forkId":...,]"status":N,"ms":M.MMM}`, without a newline.
std::string access_log_line(const AccessEntry& entry);

}  // namespace forkrun::http
