// The assert comparison: integers of any size (Boost.Multiprecision), numbers, or text.
#include "controller/assert_compare.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/multiprecision/cpp_int.hpp>
#include <compare>

#include "forks/eth/hex.hpp"

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

using BigInt = boost::multiprecision::cpp_int;

// Longest integer texts: converting text to a number costs time quadratic in its length, so
// longer strings (bytes, not numbers) compare as text instead of stalling the executor.
constexpr std::size_t kMaxDecimalDigits = 4096;
constexpr std::size_t kMaxHexDigits = 1024;  // 4096 bits

std::optional<BigInt> parse_integer_text(std::string_view s) {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        const auto digits = s.substr(2);
        if (digits.size() > kMaxHexDigits || !std::all_of(digits.begin(), digits.end(), [](char c) {
                return eth::hex_digit_value(c) >= 0;
            })) {
            return std::nullopt;
        }
        return BigInt("0x" + std::string(digits));
    }
    bool negative = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s.size() > kMaxDecimalDigits ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    // Leading zeros would make the text read as octal.
    const auto first = s.find_first_not_of('0');
    BigInt v(first == std::string_view::npos ? std::string("0") : std::string(s.substr(first)));
    return negative ? BigInt(-v) : v;
}

std::optional<BigInt> as_integer(const json::value& v) {
    if (v.is_int64()) {
        return BigInt(v.get_int64());
    }
    if (v.is_uint64()) {
        return BigInt(v.get_uint64());
    }
    if (v.is_string()) {
        return parse_integer_text(v.get_string());
    }
    return std::nullopt;
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
        return holds(a->compare(*b) <=> 0, op);
    }
    if (value.is_number() && expected.is_number()) {
        return holds(value.to_number<double>() <=> expected.to_number<double>(), op);
    }
    return holds(as_text(value).compare(as_text(expected)) <=> 0, op);
}

}  // namespace forkrun::controller
