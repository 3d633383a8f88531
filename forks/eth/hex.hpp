// Hex text <-> bytes for JSON-RPC data ("0x..." byte strings) and quantities ("0x1a").
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace forkrun::eth {

/// Why a hex string was rejected.
enum class HexError {
    kMissingPrefix = 1,  ///< a quantity must start with "0x"
    kOddLength,          ///< a byte string needs two digits per byte
    kInvalidDigit,       ///< a character outside [0-9a-fA-F]
    kWrongLength,        ///< the decoded byte count is not the one required
    kEmptyQuantity,      ///< "0x" with no digits where a number is required
    kOverflow,           ///< the quantity does not fit the target type
};

/// The error category of HexError ("forkrun.hex").
const boost::system::error_category& hex_category() noexcept;
boost::system::error_code make_error_code(HexError e) noexcept;

/// "0x" followed by two lowercase digits per byte; "0x" for no bytes.
std::string to_hex(std::span<const uint8_t> bytes);

/// A JSON-RPC quantity: "0x" followed by the value without leading zeros ("0x0" for zero).
std::string to_hex_quantity(uint64_t value);

/// Decodes a byte string; the "0x" prefix is optional, the digit count must be even.
boost::system::result<std::vector<uint8_t>> from_hex(std::string_view text);

/// Decodes exactly out.size() bytes into out (optional "0x"), so that secrets need no heap copy.
/// On failure out is zeroed.
boost::system::error_code from_hex_into(std::string_view text, std::span<uint8_t> out) noexcept;

/// Decodes exactly N bytes (optional "0x").
template <std::size_t N>
boost::system::result<std::array<uint8_t, N>> from_hex_fixed(std::string_view text) {
    std::array<uint8_t, N> out{};
    if (auto ec = from_hex_into(text, out)) {
        return ec;
    }
    return out;
}

/// Decodes a JSON-RPC quantity: "0x" required, any digit count, leading zeros tolerated.
boost::system::result<uint64_t> quantity_from_hex(std::string_view text);

/// The value of one hex digit, or -1.
constexpr int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// True when text starts with "0x" or "0X".
constexpr bool has_hex_prefix(std::string_view text) noexcept {
    return text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
}

}  // namespace forkrun::eth

template <>
struct boost::system::is_error_code_enum<forkrun::eth::HexError> : std::true_type {};
