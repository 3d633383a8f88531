// Recursive Length Prefix encoding (Ethereum yellow paper, appendix B): encoders for transaction
// fields and a strict decoder that accepts only canonical encodings and survives any input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "forks/eth/uint256.hpp"

namespace forkrun::eth {

/// Why RLP input was rejected.
enum class RlpError {
    kEmptyInput = 1,    ///< no bytes where an item is required
    kTruncated,         ///< an item extends past the end of the input or of its enclosing list
    kTrailingBytes,     ///< bytes left after the top-level item
    kNonCanonicalSize,  ///< a length encoded longer than needed (single byte < 0x80 wrapped,
                        ///< long form for < 56 bytes, leading zero in a length)
    kTooDeep,           ///< lists nested deeper than kRlpMaxDepth
    kExpectedString,    ///< a list where a byte string is required
    kExpectedList,      ///< a byte string where a list is required
    kLeadingZero,       ///< an integer with a leading zero byte
    kIntegerOverflow,   ///< an integer wider than its target type
};

/// The error category of RlpError ("forkrun.rlp").
const boost::system::error_category& rlp_category() noexcept;
boost::system::error_code make_error_code(RlpError e) noexcept;

/// Deepest list nesting rlp_decode accepts (the top-level list is depth 1).
inline constexpr std::size_t kRlpMaxDepth = 64;

/// Appends the encoding of a byte string.
void rlp_append_bytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes);
/// Appends an unsigned integer as its minimal big-endian byte string (zero is the empty string).
void rlp_append_uint(std::vector<uint8_t>& out, uint64_t value);
void rlp_append_uint(std::vector<uint8_t>& out, const Uint256& value);
/// Appends the header of a list whose concatenated item encodings take payload_size bytes.
void rlp_append_list_header(std::vector<uint8_t>& out, std::size_t payload_size);

/// The encoding of a byte string.
std::vector<uint8_t> rlp_encode_bytes(std::span<const uint8_t> bytes);
/// The encoding of an unsigned integer.
std::vector<uint8_t> rlp_encode_uint(const Uint256& value);
/// The encoding of a list of already-encoded items.
std::vector<uint8_t> rlp_encode_list(std::span<const std::vector<uint8_t>> encoded_items);

/// A decoded item: a byte string (bytes) or a list (items). Owns its data.
struct RlpItem {
    bool is_list = false;
    std::vector<uint8_t> bytes;
    std::vector<RlpItem> items;

    friend bool operator==(const RlpItem&, const RlpItem&) = default;
};

/// Decodes exactly one canonical item spanning all of input. Never reads outside input; nesting
/// is limited to kRlpMaxDepth.
boost::system::result<RlpItem> rlp_decode(std::span<const uint8_t> input);

/// The canonical encoding of an item (rlp_encode(*rlp_decode(x)) == x for every accepted x).
std::vector<uint8_t> rlp_encode(const RlpItem& item);

/// Reads a byte string as a canonical unsigned integer (no leading zeros, at most 8 bytes).
boost::system::result<uint64_t> rlp_to_uint64(const RlpItem& item);
/// Reads a byte string as a canonical unsigned integer (no leading zeros, at most 32 bytes).
boost::system::result<Uint256> rlp_to_uint256(const RlpItem& item);

}  // namespace forkrun::eth

template <>
struct boost::system::is_error_code_enum<forkrun::eth::RlpError> : std::true_type {};
