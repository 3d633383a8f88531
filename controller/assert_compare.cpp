// Arbitrary-size integer comparison through normalized decimal digit strings.
#include "controller/assert_compare.hpp"

#include <boost/json/serialize.hpp>
#include <compare>

#include "forks/hex.hpp"

namespace forkrun::controller {

namespace json = boost::json;

std::string_view to_string(AssertOp op) {
    switch (op) {
        case AssertOp::kEquals:
            return "equals";
        case AssertOp::kNotEquals:
            return "notEquals";
        case AssertOp::kGte:
            return "gte";
        case AssertOp::kLte:
            return "lte";
    }
    return "?";
}

namespace {

struct BigInt {
    bool negative = false;
    std::string digits;  // decimal, no leading zeros, "0" for zero
};

std::string strip_zeros(std::string d) {
    const auto nz = d.find_first_not_of('0');
    return nz == std::string::npos ? "0" : d.substr(nz);
}

// digits = digits * mul + add, in decimal.
void mul_add(std::string& digits, unsigned mul, unsigned add) {
    unsigned carry = add;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
        const unsigned v = static_cast<unsigned>(*it - '0') * mul + carry;
        *it = static_cast<char>('0' + v % 10);
        carry = v / 10;
    }
    while (carry > 0) {
        digits.insert(digits.begin(), static_cast<char>('0' + carry % 10));
        carry /= 10;
    }
}

// Longest integer texts: the decimal conversion of hex is quadratic, so longer strings (bytes,
// not numbers) compare as text instead of stalling the executor for seconds.
constexpr std::size_t kMaxDecimalDigits = 4096;
constexpr std::size_t kMaxHexDigits = 1024;  // 4096 bits

std::optional<BigInt> parse_integer_text(std::string_view s) {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (s.size() - 2 > kMaxHexDigits) {
            return std::nullopt;
        }
        std::string digits = "0";
        for (char c : s.substr(2)) {
            const int v = forks::hex_digit_value(c);
            if (v < 0) {
                return std::nullopt;
            }
            mul_add(digits, 16, static_cast<unsigned>(v));
        }
        return BigInt{false, strip_zeros(std::move(digits))};
    }
    BigInt out;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        out.negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > kMaxDecimalDigits) {
        return std::nullopt;
    }
    for (char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
    }
    out.digits = strip_zeros(std::string(s));
    if (out.digits == "0") {
        out.negative = false;
    }
    return out;
}

std::optional<BigInt> as_integer(const json::value& v) {
    if (v.is_int64()) {
        const auto x = v.get_int64();
        return BigInt{x < 0, x < 0 ? strip_zeros(std::to_string(x).substr(1)) : std::to_string(x)};
    }
    if (v.is_uint64()) {
        return BigInt{false, std::to_string(v.get_uint64())};
    }
    if (v.is_string()) {
        return parse_integer_text(v.get_string());
    }
    return std::nullopt;
}

std::strong_ordering compare(const BigInt& a, const BigInt& b) {
    if (a.negative != b.negative) {
        return a.negative ? std::strong_ordering::less : std::strong_ordering::greater;
    }
    auto mag = a.digits.size() != b.digits.size() ? a.digits.size() <=> b.digits.size()
                                                  : a.digits.compare(b.digits) <=> 0;
    if (a.negative) {
        return 0 <=> mag;
    }
    return mag;
}

std::string as_text(const json::value& v) {
    if (v.is_string()) {
        return std::string(v.get_string());
    }
    return json::serialize(v);
}

template <class Ord>
bool holds(Ord ord, AssertOp op) {
    switch (op) {
        case AssertOp::kEquals:
            return ord == 0;
        case AssertOp::kNotEquals:
            return ord != 0;
        case AssertOp::kGte:
            return ord >= 0;
        case AssertOp::kLte:
            return ord <= 0;
    }
    return false;
}

}  // namespace

bool assert_holds(const json::value& value, AssertOp op, const json::value& expected) {
    auto a = as_integer(value);
    auto b = as_integer(expected);
    if (a && b) {
        return holds(compare(*a, *b), op);
    }
    if (value.is_number() && expected.is_number()) {
        return holds(value.to_number<double>() <=> expected.to_number<double>(), op);
    }
    return holds(as_text(value).compare(as_text(expected)) <=> 0, op);
}

}  // namespace forkrun::controller
