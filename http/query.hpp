// Query strings: split into decoded key/value pairs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forkrun::http {

/// Percent-decodes `s` ('+' as space); nothing when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view s);

struct QueryParam {
    std::string key;
    std::string value;
};

/// The decoded pairs of `query` (without the leading '?'); nothing when one is malformed.
std::optional<std::vector<QueryParam>> parse_query(std::string_view query);

}  // namespace forkrun::http
