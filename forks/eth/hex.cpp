// Hex text <-> bytes for JSON-RPC data and quantities.
#include "forks/eth/hex.hpp"

#include <algorithm>

namespace forkrun::eth {
namespace {

constexpr char kDigits[] = "0123456789abcdef";

class HexCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.hex"; }
    std::string message(int ev) const override {
        switch (static_cast<HexError>(ev)) {
            case HexError::kMissingPrefix:
                return "hex quantity must start with 0x";
            case HexError::kOddLength:
                return "hex byte string has an odd number of digits";
            case HexError::kInvalidDigit:
                return "invalid hex digit";
            case HexError::kWrongLength:
                return "hex byte string has the wrong length";
            case HexError::kEmptyQuantity:
                return "hex quantity has no digits";
            case HexError::kOverflow:
                return "hex quantity is too large";
        }
        return "unknown hex error";
    }
};

std::string_view strip_prefix(std::string_view text) {
    return has_hex_prefix(text) ? text.substr(2) : text;
}

}  // namespace

const boost::system::error_category& hex_category() noexcept {
    static const HexCategory category;
    return category;
}

boost::system::error_code make_error_code(HexError e) noexcept {
    return {static_cast<int>(e), hex_category()};
}

std::string to_hex(std::span<const uint8_t> bytes) {
    std::string out(2 + 2 * bytes.size(), '0');
    out[1] = 'x';
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 + 2 * i] = kDigits[bytes[i] >> 4];
        out[3 + 2 * i] = kDigits[bytes[i] & 0x0f];
    }
    return out;
}

std::string to_hex_quantity(uint64_t value) {
    std::string digits;
    do {
        digits.push_back(kDigits[value & 0x0f]);
        value >>= 4;
    } while (value != 0);
    std::reverse(digits.begin(), digits.end());
    return "0x" + digits;
}

boost::system::result<std::vector<uint8_t>> from_hex(std::string_view text) {
    const std::string_view digits = strip_prefix(text);
    if (digits.size() % 2 != 0) {
        return make_error_code(HexError::kOddLength);
    }
    std::vector<uint8_t> out(digits.size() / 2);
    if (auto ec = from_hex_into(text, out)) {
        return ec;
    }
    return out;
}

boost::system::error_code from_hex_into(std::string_view text, std::span<uint8_t> out) noexcept {
    const std::string_view digits = strip_prefix(text);
    if (digits.size() % 2 != 0) {
        std::fill(out.begin(), out.end(), 0);
        return make_error_code(HexError::kOddLength);
    }
    if (digits.size() != 2 * out.size()) {
        std::fill(out.begin(), out.end(), 0);
        return make_error_code(HexError::kWrongLength);
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_digit_value(digits[2 * i]);
        const int lo = hex_digit_value(digits[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            std::fill(out.begin(), out.end(), 0);
            return make_error_code(HexError::kInvalidDigit);
        }
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return {};
}

boost::system::result<uint64_t> quantity_from_hex(std::string_view text) {
    if (!has_hex_prefix(text)) {
        return make_error_code(HexError::kMissingPrefix);
    }
    std::string_view digits = text.substr(2);
    if (digits.empty()) {
        return make_error_code(HexError::kEmptyQuantity);
    }
    uint64_t value = 0;
    for (const char c : digits) {
        const int d = hex_digit_value(c);
        if (d < 0) {
            return make_error_code(HexError::kInvalidDigit);
        }
        if (value >> 60 != 0) {
            return make_error_code(HexError::kOverflow);
        }
        value = value << 4 | static_cast<uint64_t>(d);
    }
    return value;
}

}  // namespace forkrun::eth
