// An unsigned 256-bit integer for wei amounts and fees, parsed from decimal or 0x-hex text. The
// header is four limbs (light to include); the arithmetic is Boost.Multiprecision's (uint256.cpp).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace forkrun::eth {

/// Why a 256-bit value could not be parsed or computed.
enum class Uint256Error {
    kEmpty = 1,      ///< no digits
    kInvalidDigit,   ///< a character that is not a digit of the base
    kOverflow,       ///< the value or result exceeds 2^256-1
    kUnderflow,      ///< a subtraction would go below zero
    kMissingPrefix,  ///< hex text must start with "0x"
    kTooManyBytes,   ///< more than 32 big-endian bytes
    kNotAString,     ///< JSON value is not a decimal string or a non-negative integer
};

/// The error category of Uint256Error ("forkrun.uint256").
const boost::system::error_category& uint256_category() noexcept;
boost::system::error_code make_error_code(Uint256Error e) noexcept;

/// An unsigned 256-bit integer. Plain value type; arithmetic is checked, never wrapping.
class Uint256 {
  public:
    constexpr Uint256() noexcept = default;
    /// From a 64-bit value (implicit: every uint64_t fits).
    constexpr Uint256(uint64_t value) noexcept : limbs_{value, 0, 0, 0} {}  // NOLINT

    /// Parses decimal digits only (no sign, no spaces); leading zeros are accepted.
    static boost::system::result<Uint256> from_decimal(std::string_view text);
    /// Parses "0x" followed by 1..64 hex digits (a JSON-RPC quantity; leading zeros accepted).
    static boost::system::result<Uint256> from_hex(std::string_view text);
    /// From at most 32 big-endian bytes (fewer bytes are left-padded with zeros).
    static boost::system::result<Uint256> from_big_endian(std::span<const uint8_t> bytes);

    /// The largest value, 2^256-1.
    static constexpr Uint256 max() noexcept {
        Uint256 v;
        v.limbs_ = {~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}};
        return v;
    }

    /// Decimal digits without leading zeros ("0" for zero).
    std::string to_decimal() const;
    /// A JSON-RPC quantity: "0x" and hex digits without leading zeros ("0x0" for zero).
    std::string to_hex() const;
    /// 32 big-endian bytes.
    std::array<uint8_t, 32> to_big_endian() const noexcept;
    /// Big-endian bytes without leading zeros (empty for zero), as RLP encodes integers.
    std::vector<uint8_t> to_minimal_big_endian() const;

    constexpr bool is_zero() const noexcept {
        return (limbs_[0] | limbs_[1] | limbs_[2] | limbs_[3]) == 0;
    }
    constexpr bool fits_uint64() const noexcept { return (limbs_[1] | limbs_[2] | limbs_[3]) == 0; }
    /// The low 64 bits (the whole value when fits_uint64()).
    constexpr uint64_t low64() const noexcept { return limbs_[0]; }

    friend constexpr bool operator==(const Uint256&, const Uint256&) noexcept = default;
    friend constexpr std::strong_ordering operator<=>(const Uint256& a, const Uint256& b) noexcept {
        for (int i = 3; i >= 0; --i) {
            if (a.limbs_[i] != b.limbs_[i]) {
                return a.limbs_[i] <=> b.limbs_[i];
            }
        }
        return std::strong_ordering::equal;
    }

    /// a + b, or kOverflow.
    friend boost::system::result<Uint256> checked_add(const Uint256& a, const Uint256& b);
    /// a - b, or kUnderflow when b > a.
    friend boost::system::result<Uint256> checked_sub(const Uint256& a, const Uint256& b);
    /// a * b, or kOverflow.
    friend boost::system::result<Uint256> checked_mul(const Uint256& a, const Uint256& b);
    /// a / d rounded down; `d` must not be zero.
    friend Uint256 divided_by(const Uint256& a, uint64_t d) noexcept;
    /// a - b, or zero when b > a (e.g. balance minus fees when capping a transfer to the dust).
    friend Uint256 saturating_sub(const Uint256& a, const Uint256& b) noexcept;

  private:
    // Digits already checked ("0x" hex or decimal) converted with Boost.Multiprecision.
    static boost::system::result<Uint256> from_wide_text(std::string_view digits);

    std::array<uint64_t, 4> limbs_{};  // little-endian: limbs_[0] is the least significant
};

/// The smaller of two values (std::min works as well; this one returns by value).
constexpr Uint256 min(const Uint256& a, const Uint256& b) noexcept {
    return b < a ? b : a;
}

/// Writes the decimal form (for logs and test failure messages).
std::ostream& operator<<(std::ostream& os, const Uint256& v);

/// JSON: written as a decimal string (wei amounts exceed what JSON numbers carry exactly).
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& jv, const Uint256& v);
/// JSON: read from a decimal string or a non-negative JSON integer.
boost::system::result<Uint256> tag_invoke(const boost::json::try_value_to_tag<Uint256>&,
                                          const boost::json::value& jv);

}  // namespace forkrun::eth

template <>
struct boost::system::is_error_code_enum<forkrun::eth::Uint256Error> : std::true_type {};
