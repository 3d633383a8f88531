// JSON text that stays valid: strings made well-formed UTF-8, numbers that JSON can carry.
#pragma once

#include <boost/json/fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace forkrun::util {

/// `s` as a JSON string literal, quotes included. Bytes that are not well-formed UTF-8 (a request
/// target or a percent-decoded query may hold any) become U+FFFD, so the JSON stays valid.
std::string json_quote(std::string_view s);

/// Appends `s` as a JSON string literal, quotes included, byte for byte as Boost.JSON's
/// serializer writes it (no UTF-8 repair: for text the service made or already checked).
void append_json_string(std::string& out, std::string_view s);

/// True when `s` is well-formed UTF-8 throughout.
bool is_valid_utf8(std::string_view s);

/// `s` with every byte that does not start a well-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

/// The JSON pointer of the first number in `v` that is not finite, else nothing. Boost.JSON reads
/// a number beyond a double's range (1e400) as infinity and would write it back as `Infinity`,
/// which is not JSON, so such input is refused wherever JSON comes in.
std::optional<std::string> non_finite_number_at(const boost::json::value& v);

/// False when JSON text `text` cannot hold such a number: it has no exponent after a digit and
/// no run of 300 digits. A quick look before non_finite_number_at's walk of the parsed value
/// (true does not mean there is one: "0x1e" in a string says true).
bool may_hold_out_of_range_number(std::string_view text);

/// non_finite_number_at(v) for `v` parsed from `text`, skipped when the text cannot hold one.
std::optional<std::string> non_finite_number_in(std::string_view text, const boost::json::value& v);

}  // namespace forkrun::util
