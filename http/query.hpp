// Request targets: split into path, path segments and query, and the query into decoded key/value
// pairs, as RFC 3986 reads them (Boost.URL).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forkrun::http {

/// A request target's parts, each as sent (nothing percent-decoded: an id is matched as the
/// client wrote it).
struct RequestTarget {
    /// "/v1/runs/run_x/cancel"; the whole target when it is not origin-form ("*", absolute-form).
    std::string path;
    /// {"v1", "runs", "run_x", "cancel"}; none when the target is not origin-form.
    std::vector<std::string> segments;
    /// What follows the first '?', without it.
    std::string query;
};

/// Splits `target`. Characters Beast lets through but a URI may not hold (`{`, `|`, `"`, a
/// byte past ASCII...) and '%' are kept as they are, not refused.
RequestTarget split_target(std::string_view target);

struct QueryParam {
    std::string key;
    std::string value;
};

/// The decoded pairs of `query` (without the leading '?'; '+' is a space, empty pairs are
/// skipped); nothing when a percent-escape is malformed.
std::optional<std::vector<QueryParam>> parse_query(std::string_view query);

}  // namespace forkrun::http
