// How the run endpoints read a request's body: its media type, whether one was sent, its JSON.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string_view>

#include "controller/field_error.hpp"

namespace forkrun::http {

/// Whether `a` and `b` are equal ignoring ASCII case.
bool iequals_ascii(std::string_view a, std::string_view b);

/// Whether a Content-Type names application/json, in any case, with or without parameters.
bool is_json_media_type(std::string_view content_type);

/// Whether a body holds nothing but whitespace (then it counts as not sent).
bool is_blank_body(std::string_view body);

/// Greatest nesting of a request body's arrays and objects.
inline constexpr std::size_t kMaxBodyDepth = 64;

/// `body` as JSON, nesting at most kMaxBodyDepth deep, every number finite; nullopt with the
/// one problem added to `errors` (at the root for a parse error, at the number's pointer).
std::optional<boost::json::value> parse_json_body(std::string_view body,
                                                  controller::FieldErrors& errors);

}  // namespace forkrun::http
