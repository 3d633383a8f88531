// The comparison behind the `assert` node: integers (decimal or 0x-hex) as integers, else text.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace forkrun::controller {

enum class AssertOp { kEquals, kNotEquals, kGte, kLte };

std::string_view to_string(AssertOp op);

/// True when `value <op> expected` holds. Both sides that read as integers (JSON integers,
/// decimal strings, 0x-hex strings, of any size, with a sign for decimals) compare as integers;
/// two JSON numbers compare as numbers; anything else compares as text (strings as they are,
/// other JSON as its compact serialization).
bool assert_holds(const boost::json::value& value, AssertOp op, const boost::json::value& expected);

}  // namespace forkrun::controller
