// What a reverted transaction says: Error(string), Panic(uint256), or a custom error's selector.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace forkrun::controller {

/// The meaning of a Solidity panic code ("arithmetic overflow or underflow" for 0x11), empty when
/// the code is not one the compiler emits.
std::string_view panic_meaning(std::uint64_t code);

/// The revert data of a transaction, decoded:
/// - `Error(string)`: `{"kind": "error", "message": "<text>"}`;
/// - `Panic(uint256)`: `{"kind": "panic", "code": "0x11", "meaning": "..."}`;
/// - anything else: `{"kind": "custom", "selector": "0x12345678", "data": "0x..."}` (selector
///   null when there are fewer than four bytes, e.g. a bare `revert()`).
/// `raw` always holds the data as hex.
boost::json::object decode_revert(std::span<const std::uint8_t> data);

/// A short sentence for an error message: `Error("not enough")`, `Panic(0x11: arithmetic
/// overflow or underflow)`, `custom error 0x12345678`, or `no revert data`.
std::string describe_revert(const boost::json::object& decoded);

}  // namespace forkrun::controller
