// Keccak-256 as Ethereum uses it (the original Keccak padding, not NIST SHA3-256).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace forkrun::eth {

/// A 32-byte hash (transaction hash, signing hash, storage key).
using Hash256 = std::array<uint8_t, 32>;

/// Keccak-256 of bytes.
Hash256 keccak256(std::span<const uint8_t> data) noexcept;

/// Keccak-256 of the bytes of a string (e.g. a function signature "transfer(address,uint256)").
Hash256 keccak256(std::string_view text) noexcept;

}  // namespace forkrun::eth
