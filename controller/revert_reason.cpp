// ABI decoding of the two revert payloads Solidity defines, bounded by the data's own length.
#include "controller/revert_reason.hpp"

#include <optional>

#include "forks/eth/hex.hpp"
#include "forks/eth/uint256.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

constexpr std::uint8_t kErrorSelector[4] = {0x08, 0xc3, 0x79, 0xa0};  // Error(string)
constexpr std::uint8_t kPanicSelector[4] = {0x4e, 0x48, 0x7b, 0x71};  // Panic(uint256)

bool starts_with(std::span<const std::uint8_t> data, const std::uint8_t (&sel)[4]) {
    return data.size() >= 4 && data[0] == sel[0] && data[1] == sel[1] && data[2] == sel[2] &&
           data[3] == sel[3];
}

// The 32-byte word at `at` as a small number, or nullopt when it does not fit in 64 bits.
std::optional<std::uint64_t> word(std::span<const std::uint8_t> data, std::size_t at) {
    if (at > data.size() || data.size() - at < 32) {
        return std::nullopt;
    }
    auto v = eth::Uint256::from_big_endian(data.subspan(at, 32));
    if (!v || !v->fits_uint64()) {
        return std::nullopt;
    }
    return v->low64();
}

// Error(string)'s text: offset word, length word, bytes; nullopt when malformed.
std::optional<std::string> error_text(std::span<const std::uint8_t> args) {
    const auto offset = word(args, 0);
    if (!offset || *offset > args.size()) {
        return std::nullopt;
    }
    const auto length = word(args, static_cast<std::size_t>(*offset));
    const std::size_t start = static_cast<std::size_t>(*offset) + 32;
    if (!length || start > args.size() || args.size() - start < *length) {
        return std::nullopt;
    }
    const auto* p = reinterpret_cast<const char*>(args.data() + start);
    return std::string(p, static_cast<std::size_t>(*length));
}

}  // namespace

std::string_view panic_meaning(std::uint64_t code) {
    switch (code) {
        case 0x00:
            return "generic compiler panic";
        case 0x01:
            return "assertion failed";
        case 0x11:
            return "arithmetic overflow or underflow";
        case 0x12:
            return "division or modulo by zero";
        case 0x21:
            return "conversion to an invalid enum value";
        case 0x22:
            return "access to an incorrectly encoded storage byte array";
        case 0x31:
            return "pop on an empty array";
        case 0x32:
            return "array index out of bounds";
        case 0x41:
            return "too much memory allocated";
        case 0x51:
            return "call to a zero-initialized function variable";
        default:
            return {};
    }
}

json::object decode_revert(std::span<const std::uint8_t> data) {
    json::object out;
    const auto args = data.size() >= 4 ? data.subspan(4) : std::span<const std::uint8_t>();
    if (starts_with(data, kErrorSelector)) {
        if (auto text = error_text(args)) {
            out["kind"] = "error";
            out["message"] = *text;
            out["raw"] = eth::to_hex(data);
            return out;
        }
    } else if (starts_with(data, kPanicSelector) && args.size() >= 32) {
        auto code = eth::Uint256::from_big_endian(args.subspan(0, 32));
        if (code) {
            out["kind"] = "panic";
            out["code"] = code->to_hex();
            const auto meaning =
                code->fits_uint64() ? panic_meaning(code->low64()) : std::string_view();
            out["meaning"] = meaning.empty() ? std::string_view("unknown panic code") : meaning;
            out["raw"] = eth::to_hex(data);
            return out;
        }
    }
    out["kind"] = "custom";
    out["selector"] =
        data.size() >= 4 ? json::value(eth::to_hex(data.subspan(0, 4))) : json::value();
    out["data"] = eth::to_hex(args);
    out["raw"] = eth::to_hex(data);
    return out;
}

std::string describe_revert(const json::object& d) {
    const auto* kind = d.if_contains("kind");
    if (!kind || !kind->is_string()) {
        return "no revert data";
    }
    if (*kind == "error") {
        return "Error(\"" + std::string(d.at("message").as_string()) + "\")";
    }
    if (*kind == "panic") {
        return "Panic(" + std::string(d.at("code").as_string()) + ": " +
               std::string(d.at("meaning").as_string()) + ")";
    }
    const auto& sel = d.at("selector");
    if (sel.is_string()) {
        return "custom error " + std::string(sel.as_string());
    }
    return "no revert data";
}

}  // namespace forkrun::controller
