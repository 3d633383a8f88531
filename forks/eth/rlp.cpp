// RLP encoding and strict decoding. The decoder checks every length against the bytes that are
// actually left before touching them, so arbitrary (fuzzed) input cannot make it read out of
// bounds.
#include "forks/eth/rlp.hpp"

#include <array>
#include <string>

namespace forkrun::eth {
namespace {

constexpr uint8_t kStringShort = 0x80;
constexpr uint8_t kStringLong = 0xb7;
constexpr uint8_t kListShort = 0xc0;
constexpr uint8_t kListLong = 0xf7;
constexpr std::size_t kShortLimit = 56;

class RlpCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.rlp"; }
    std::string message(int ev) const override {
        switch (static_cast<RlpError>(ev)) {
            case RlpError::kEmptyInput:
                return "RLP input is empty";
            case RlpError::kTruncated:
                return "RLP item extends past the end of its input";
            case RlpError::kTrailingBytes:
                return "bytes after the RLP item";
            case RlpError::kNonCanonicalSize:
                return "RLP length is not canonically encoded";
            case RlpError::kTooDeep:
                return "RLP lists nested too deeply";
            case RlpError::kExpectedString:
                return "RLP list where a byte string is required";
            case RlpError::kExpectedList:
                return "RLP byte string where a list is required";
            case RlpError::kLeadingZero:
                return "RLP integer has a leading zero";
            case RlpError::kIntegerOverflow:
                return "RLP integer too large";
        }
        return "unknown RLP error";
    }
};

void append_header(std::vector<uint8_t>& out, uint8_t short_base, std::size_t size) {
    if (size < kShortLimit) {
        out.push_back(static_cast<uint8_t>(short_base + size));
        return;
    }
    uint8_t length_bytes = 0;
    for (std::size_t s = size; s != 0; s >>= 8) {
        ++length_bytes;
    }
    out.push_back(static_cast<uint8_t>(short_base + kShortLimit - 1 + length_bytes));
    for (int shift = 8 * (length_bytes - 1); shift >= 0; shift -= 8) {
        out.push_back(static_cast<uint8_t>(size >> shift));
    }
}

struct Header {
    bool is_list = false;
    std::size_t header_size = 0;
    std::size_t payload_size = 0;
};

// Reads the header of the item at the start of in and checks the item fits in in.
boost::system::result<Header> read_header(std::span<const uint8_t> in) {
    if (in.empty()) {
        return make_error_code(RlpError::kTruncated);
    }
    const uint8_t b = in[0];
    Header h;
    if (b < kStringShort) {
        h.header_size = 0;
        h.payload_size = 1;
        return h;
    }
    h.is_list = b >= kListShort;
    const uint8_t short_base = h.is_list ? kListShort : kStringShort;
    const uint8_t long_base = h.is_list ? kListLong : kStringLong;
    if (b <= long_base) {
        h.header_size = 1;
        h.payload_size = b - short_base;
        if (h.payload_size > in.size() - 1) {
            return make_error_code(RlpError::kTruncated);
        }
        // A single byte below 0x80 is its own encoding.
        if (!h.is_list && h.payload_size == 1 && in[1] < kStringShort) {
            return make_error_code(RlpError::kNonCanonicalSize);
        }
        return h;
    }
    const std::size_t length_bytes = b - long_base;  // 1..8
    if (length_bytes > in.size() - 1) {
        return make_error_code(RlpError::kTruncated);
    }
    if (in[1] == 0) {
        return make_error_code(RlpError::kNonCanonicalSize);
    }
    uint64_t size = 0;
    for (std::size_t i = 0; i < length_bytes; ++i) {
        size = size << 8 | in[1 + i];
    }
    if (size < kShortLimit) {
        return make_error_code(RlpError::kNonCanonicalSize);
    }
    h.header_size = 1 + length_bytes;
    if (size > in.size() - h.header_size) {
        return make_error_code(RlpError::kTruncated);
    }
    h.payload_size = static_cast<std::size_t>(size);
    return h;
}

// Decodes the item at the start of in; consumed receives its total size.
boost::system::result<RlpItem> decode_item(std::span<const uint8_t> in,
                                           std::size_t depth,
                                           std::size_t& consumed) {
    auto header = read_header(in);
    if (!header) {
        return header.error();
    }
    const Header h = *header;
    consumed = h.header_size + h.payload_size;
    RlpItem item;
    item.is_list = h.is_list;
    if (h.header_size == 0) {
        item.bytes.push_back(in[0]);
        return item;
    }
    const auto payload = in.subspan(h.header_size, h.payload_size);
    if (!h.is_list) {
        item.bytes.assign(payload.begin(), payload.end());
        return item;
    }
    if (depth + 1 > kRlpMaxDepth) {
        return make_error_code(RlpError::kTooDeep);
    }
    std::size_t offset = 0;
    while (offset < payload.size()) {
        std::size_t used = 0;
        auto child = decode_item(payload.subspan(offset), depth + 1, used);
        if (!child) {
            return child.error();
        }
        item.items.push_back(std::move(*child));
        offset += used;
    }
    return item;
}

void encode_into(std::vector<uint8_t>& out, const RlpItem& item) {
    if (!item.is_list) {
        rlp_append_bytes(out, item.bytes);
        return;
    }
    std::vector<uint8_t> payload;
    for (const auto& child : item.items) {
        encode_into(payload, child);
    }
    rlp_append_list_header(out, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
}

// Checks a byte string is a canonical integer of at most max_bytes bytes.
boost::system::error_code check_integer(const RlpItem& item, std::size_t max_bytes) {
    if (item.is_list) {
        return make_error_code(RlpError::kExpectedString);
    }
    if (!item.bytes.empty() && item.bytes[0] == 0) {
        return make_error_code(RlpError::kLeadingZero);
    }
    if (item.bytes.size() > max_bytes) {
        return make_error_code(RlpError::kIntegerOverflow);
    }
    return {};
}

}  // namespace

const boost::system::error_category& rlp_category() noexcept {
    static const RlpCategory category;
    return category;
}

boost::system::error_code make_error_code(RlpError e) noexcept {
    return {static_cast<int>(e), rlp_category()};
}

void rlp_append_bytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes) {
    if (bytes.size() == 1 && bytes[0] < kStringShort) {
        out.push_back(bytes[0]);
        return;
    }
    append_header(out, kStringShort, bytes.size());
    out.insert(out.end(), bytes.begin(), bytes.end());
}

void rlp_append_uint(std::vector<uint8_t>& out, uint64_t value) {
    std::array<uint8_t, 8> be{};
    std::size_t n = 0;
    for (uint64_t v = value; v != 0; v >>= 8) {
        ++n;
    }
    for (std::size_t i = 0; i < n; ++i) {
        be[i] = static_cast<uint8_t>(value >> (8 * (n - 1 - i)));
    }
    rlp_append_bytes(out, std::span<const uint8_t>(be.data(), n));
}

void rlp_append_uint(std::vector<uint8_t>& out, const Uint256& value) {
    rlp_append_bytes(out, value.to_minimal_big_endian());
}

void rlp_append_list_header(std::vector<uint8_t>& out, std::size_t payload_size) {
    append_header(out, kListShort, payload_size);
}

std::vector<uint8_t> rlp_encode_bytes(std::span<const uint8_t> bytes) {
    std::vector<uint8_t> out;
    rlp_append_bytes(out, bytes);
    return out;
}

std::vector<uint8_t> rlp_encode_uint(const Uint256& value) {
    std::vector<uint8_t> out;
    rlp_append_uint(out, value);
    return out;
}

std::vector<uint8_t> rlp_encode_list(std::span<const std::vector<uint8_t>> encoded_items) {
    std::size_t payload_size = 0;
    for (const auto& item : encoded_items) {
        payload_size += item.size();
    }
    std::vector<uint8_t> out;
    out.reserve(payload_size + 9);
    rlp_append_list_header(out, payload_size);
    for (const auto& item : encoded_items) {
        out.insert(out.end(), item.begin(), item.end());
    }
    return out;
}

boost::system::result<RlpItem> rlp_decode(std::span<const uint8_t> input) {
    if (input.empty()) {
        return make_error_code(RlpError::kEmptyInput);
    }
    std::size_t consumed = 0;
    auto item = decode_item(input, 0, consumed);
    if (!item) {
        return item.error();
    }
    if (consumed != input.size()) {
        return make_error_code(RlpError::kTrailingBytes);
    }
    return item;
}

std::vector<uint8_t> rlp_encode(const RlpItem& item) {
    std::vector<uint8_t> out;
    encode_into(out, item);
    return out;
}

boost::system::result<uint64_t> rlp_to_uint64(const RlpItem& item) {
    if (auto ec = check_integer(item, 8)) {
        return ec;
    }
    uint64_t value = 0;
    for (const uint8_t b : item.bytes) {
        value = value << 8 | b;
    }
    return value;
}

boost::system::result<Uint256> rlp_to_uint256(const RlpItem& item) {
    if (auto ec = check_integer(item, 32)) {
        return ec;
    }
    return Uint256::from_big_endian(item.bytes);
}

}  // namespace forkrun::eth
