// Unsigned 256-bit integer: parsing, formatting and checked arithmetic with Boost.Multiprecision
// (a 512-bit intermediate makes every overflow check a comparison).
#include "forks/eth/uint256.hpp"

#include <algorithm>
#include <limits>
#include <ostream>

#include <boost/multiprecision/cpp_int.hpp>

#include <boost/json/value.hpp>

#include "forks/eth/hex.hpp"

namespace forkrun::eth {
namespace {

class Uint256Category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.uint256"; }
    std::string message(int ev) const override {
        switch (static_cast<Uint256Error>(ev)) {
            case Uint256Error::kEmpty:
                return "number has no digits";
            case Uint256Error::kInvalidDigit:
                return "number has an invalid digit";
            case Uint256Error::kOverflow:
                return "number exceeds 2^256-1";
            case Uint256Error::kUnderflow:
                return "subtraction below zero";
            case Uint256Error::kMissingPrefix:
                return "hex number must start with 0x";
            case Uint256Error::kTooManyBytes:
                return "more than 32 bytes for a 256-bit number";
            case Uint256Error::kNotAString:
                return "expected a decimal string or a non-negative integer";
        }
        return "unknown uint256 error";
    }
};

}  // namespace

const boost::system::error_category& uint256_category() noexcept {
    static const Uint256Category category;
    return category;
}

boost::system::error_code make_error_code(Uint256Error e) noexcept {
    return {static_cast<int>(e), uint256_category()};
}

namespace {

namespace mp = boost::multiprecision;
using Wide =
    mp::uint512_t;  // wide enough for a product or a 78-digit decimal of two 256-bit values

Wide to_wide(const std::array<uint64_t, 4>& limbs) {
    Wide w = limbs[3];
    for (int i = 2; i >= 0; --i) {
        w <<= 64;
        w |= limbs[static_cast<std::size_t>(i)];
    }
    return w;
}

// The value of `w`, or kOverflow when it needs more than 256 bits.
boost::system::result<std::array<uint64_t, 4>> to_limbs(Wide w) {
    if (mp::msb(w | 1) >= 256) {
        return make_error_code(Uint256Error::kOverflow);
    }
    std::array<uint64_t, 4> limbs{};
    for (auto& limb : limbs) {
        limb = static_cast<uint64_t>(w & std::numeric_limits<uint64_t>::max());
        w >>= 64;
    }
    return limbs;
}

}  // namespace

boost::system::result<Uint256> Uint256::from_wide_text(std::string_view digits) {
    auto limbs = to_limbs(Wide(std::string(digits)));
    if (!limbs) {
        return limbs.error();
    }
    Uint256 v;
    v.limbs_ = *limbs;
    return v;
}

boost::system::result<Uint256> Uint256::from_decimal(std::string_view text) {
    if (text.empty()) {
        return make_error_code(Uint256Error::kEmpty);
    }
    if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return make_error_code(Uint256Error::kInvalidDigit);
    }
    // Leading zeros do not count; 2^256-1 has 78 digits, so 79 or more is an overflow (and a
    // long text is never converted).
    const auto first = text.find_first_not_of('0');
    text = first == std::string_view::npos ? "0" : text.substr(first);
    if (text.size() > 78) {
        return make_error_code(Uint256Error::kOverflow);
    }
    return from_wide_text(text);
}

boost::system::result<Uint256> Uint256::from_hex(std::string_view text) {
    if (!has_hex_prefix(text)) {
        return make_error_code(Uint256Error::kMissingPrefix);
    }
    std::string_view digits = text.substr(2);
    if (digits.empty()) {
        return make_error_code(Uint256Error::kEmpty);
    }
    if (!std::all_of(digits.begin(), digits.end(),
                     [](char c) { return hex_digit_value(c) >= 0; })) {
        return make_error_code(Uint256Error::kInvalidDigit);
    }
    // Leading zeros do not count towards the 64-digit limit.
    const auto first = digits.find_first_not_of('0');
    digits = first == std::string_view::npos ? "0" : digits.substr(first);
    if (digits.size() > 64) {
        return make_error_code(Uint256Error::kOverflow);
    }
    return from_wide_text("0x" + std::string(digits));
}

boost::system::result<Uint256> Uint256::from_big_endian(std::span<const uint8_t> bytes) {
    if (bytes.size() > 32) {
        return make_error_code(Uint256Error::kTooManyBytes);
    }
    Wide w;
    mp::import_bits(w, bytes.begin(), bytes.end(), 8);
    Uint256 v;
    v.limbs_ = *to_limbs(w);
    return v;
}

std::string Uint256::to_decimal() const {
    return to_wide(limbs_).str();
}

std::string Uint256::to_hex() const {
    const auto bytes = to_minimal_big_endian();
    if (bytes.empty()) {
        return "0x0";
    }
    std::string out = eth::to_hex(bytes);
    if (out[2] == '0') {
        out.erase(2, 1);
    }
    return out;
}

std::array<uint8_t, 32> Uint256::to_big_endian() const noexcept {
    std::array<uint8_t, 32> out{};
    for (std::size_t i = 0; i < 32; ++i) {
        out[31 - i] = static_cast<uint8_t>(limbs_[i / 8] >> (8 * (i % 8)));
    }
    return out;
}

std::vector<uint8_t> Uint256::to_minimal_big_endian() const {
    const auto full = to_big_endian();
    const auto first = std::find_if(full.begin(), full.end(), [](uint8_t b) { return b != 0; });
    return {first, full.end()};
}

boost::system::result<Uint256> checked_add(const Uint256& a, const Uint256& b) {
    auto limbs = to_limbs(to_wide(a.limbs_) + to_wide(b.limbs_));
    if (!limbs) {
        return limbs.error();
    }
    Uint256 sum;
    sum.limbs_ = *limbs;
    return sum;
}

boost::system::result<Uint256> checked_sub(const Uint256& a, const Uint256& b) {
    if (b > a) {
        return make_error_code(Uint256Error::kUnderflow);
    }
    Uint256 diff;
    diff.limbs_ = *to_limbs(to_wide(a.limbs_) - to_wide(b.limbs_));
    return diff;
}

boost::system::result<Uint256> checked_mul(const Uint256& a, const Uint256& b) {
    auto limbs = to_limbs(to_wide(a.limbs_) * to_wide(b.limbs_));
    if (!limbs) {
        return limbs.error();
    }
    Uint256 product;
    product.limbs_ = *limbs;
    return product;
}

Uint256 divided_by(const Uint256& a, uint64_t d) noexcept {
    Uint256 quotient;
    quotient.limbs_ = *to_limbs(to_wide(a.limbs_) / d);  // never above a: fits
    return quotient;
}

Uint256 saturating_sub(const Uint256& a, const Uint256& b) noexcept {
    auto diff = checked_sub(a, b);
    return diff ? *diff : Uint256{};
}

std::ostream& operator<<(std::ostream& os, const Uint256& v) {
    return os << v.to_decimal();
}

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& jv, const Uint256& v) {
    jv = v.to_decimal();
}

boost::system::result<Uint256> tag_invoke(const boost::json::try_value_to_tag<Uint256>&,
                                          const boost::json::value& jv) {
    if (const auto* s = jv.if_string()) {
        return Uint256::from_decimal(*s);
    }
    if (const auto* u = jv.if_uint64()) {
        return Uint256{*u};
    }
    if (const auto* i = jv.if_int64(); i != nullptr && *i >= 0) {
        return Uint256{static_cast<uint64_t>(*i)};
    }
    return make_error_code(Uint256Error::kNotAString);
}

}  // namespace forkrun::eth
