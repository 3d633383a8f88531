// Helpers shared by the workflow validation files (definition, graph, inputSchema); not public.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include "controller/field_error.hpp"

namespace forkrun::controller::detail {

inline constexpr std::string_view kRoot = "root";
inline constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

inline std::string_view view(const boost::json::string& s) {
    return {s.data(), s.size()};
}

inline std::string unknown_key(std::string_view key) {
    return "unknown key " + in_quotes(key);
}

/// Cycles among `nodes` (one error each, at `nodes_path`) and nodes not reachable from root.
void check_graph(const boost::json::object& nodes,
                 std::string_view nodes_path,
                 FieldErrors& errors);

/// Every problem in a definition's inputSchema (null pointer or JSON null: none), at `path`.
void check_input_schema(const boost::json::value* schema,
                        std::string_view path,
                        FieldErrors& errors);

}  // namespace forkrun::controller::detail
