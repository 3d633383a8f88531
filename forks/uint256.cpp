// Unsigned 256-bit integer: parsing, formatting and checked arithmetic on four 64-bit limbs.
#include "forks/uint256.hpp"

#include <algorithm>
#include <ostream>

#include <boost/json/value.hpp>

#include "forks/hex.hpp"

namespace forkrun::forks {
namespace {

__extension__ typedef unsigned __int128 U128;

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

boost::system::result<Uint256> Uint256::from_decimal(std::string_view text) {
    if (text.empty()) {
        return make_error_code(Uint256Error::kEmpty);
    }
    Uint256 v;
    for (const char c : text) {
        if (c < '0' || c > '9') {
            return make_error_code(Uint256Error::kInvalidDigit);
        }
        U128 carry = static_cast<uint64_t>(c - '0');
        for (auto& limb : v.limbs_) {
            const U128 t = static_cast<U128>(limb) * 10 + carry;
            limb = static_cast<uint64_t>(t);
            carry = t >> 64;
        }
        if (carry != 0) {
            return make_error_code(Uint256Error::kOverflow);
        }
    }
    return v;
}

boost::system::result<Uint256> Uint256::from_hex(std::string_view text) {
    if (!has_hex_prefix(text)) {
        return make_error_code(Uint256Error::kMissingPrefix);
    }
    std::string_view digits = text.substr(2);
    if (digits.empty()) {
        return make_error_code(Uint256Error::kEmpty);
    }
    // Leading zeros do not count towards the 64-digit limit.
    const auto first = digits.find_first_not_of('0');
    digits = first == std::string_view::npos ? std::string_view{} : digits.substr(first);
    if (digits.size() > 64) {
        for (const char c : digits) {
            if (hex_digit_value(c) < 0) {
                return make_error_code(Uint256Error::kInvalidDigit);
            }
        }
        return make_error_code(Uint256Error::kOverflow);
    }
    Uint256 v;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        const int d = hex_digit_value(digits[digits.size() - 1 - i]);
        if (d < 0) {
            return make_error_code(Uint256Error::kInvalidDigit);
        }
        v.limbs_[i / 16] |= static_cast<uint64_t>(d) << (4 * (i % 16));
    }
    return v;
}

boost::system::result<Uint256> Uint256::from_big_endian(std::span<const uint8_t> bytes) {
    if (bytes.size() > 32) {
        return make_error_code(Uint256Error::kTooManyBytes);
    }
    Uint256 v;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        v.limbs_[i / 8] |= static_cast<uint64_t>(bytes[bytes.size() - 1 - i]) << (8 * (i % 8));
    }
    return v;
}

std::string Uint256::to_decimal() const {
    if (is_zero()) {
        return "0";
    }
    constexpr uint64_t kChunk = 10'000'000'000'000'000'000ULL;  // 10^19, fits in 64 bits
    std::string out;
    Uint256 rest = *this;
    while (!rest.is_zero()) {
        U128 remainder = 0;
        for (int i = 3; i >= 0; --i) {
            const U128 cur = remainder << 64 | rest.limbs_[i];
            rest.limbs_[i] = static_cast<uint64_t>(cur / kChunk);
            remainder = cur % kChunk;
        }
        auto chunk = static_cast<uint64_t>(remainder);
        for (int d = 0; d < 19; ++d) {
            out.push_back(static_cast<char>('0' + chunk % 10));
            chunk /= 10;
        }
    }
    while (out.size() > 1 && out.back() == '0') {
        out.pop_back();
    }
    std::reverse(out.begin(), out.end());
    return out;
}

std::string Uint256::to_hex() const {
    const auto bytes = to_minimal_big_endian();
    if (bytes.empty()) {
        return "0x0";
    }
    std::string out = forks::to_hex(bytes);
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
    Uint256 sum;
    uint64_t carry = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const U128 t = static_cast<U128>(a.limbs_[i]) + b.limbs_[i] + carry;
        sum.limbs_[i] = static_cast<uint64_t>(t);
        carry = static_cast<uint64_t>(t >> 64);
    }
    if (carry != 0) {
        return make_error_code(Uint256Error::kOverflow);
    }
    return sum;
}

boost::system::result<Uint256> checked_sub(const Uint256& a, const Uint256& b) {
    if (b > a) {
        return make_error_code(Uint256Error::kUnderflow);
    }
    Uint256 diff;
    uint64_t borrow = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const uint64_t sub = b.limbs_[i] + borrow;
        const bool wrapped = borrow != 0 && sub == 0;  // b limb was all ones
        diff.limbs_[i] = a.limbs_[i] - sub;
        borrow = (wrapped || a.limbs_[i] < sub) ? 1 : 0;
    }
    return diff;
}

boost::system::result<Uint256> checked_mul(const Uint256& a, const Uint256& b) {
    // Schoolbook product into eight limbs; any non-zero high limb is an overflow.
    std::array<uint64_t, 8> wide{};
    for (std::size_t i = 0; i < 4; ++i) {
        uint64_t carry = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const U128 t = static_cast<U128>(a.limbs_[i]) * b.limbs_[j] + wide[i + j] + carry;
            wide[i + j] = static_cast<uint64_t>(t);
            carry = static_cast<uint64_t>(t >> 64);
        }
        wide[i + 4] = carry;
    }
    if ((wide[4] | wide[5] | wide[6] | wide[7]) != 0) {
        return make_error_code(Uint256Error::kOverflow);
    }
    Uint256 product;
    std::copy_n(wide.begin(), 4, product.limbs_.begin());
    return product;
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

}  // namespace forkrun::forks
