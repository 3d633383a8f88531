// Keccak-256 through Crypto++ (Keccak_256 keeps the pre-standard padding Ethereum hashes with).
#include "forks/eth/keccak.hpp"

#include <cryptopp/keccak.h>

namespace forkrun::eth {

Hash256 keccak256(std::span<const uint8_t> data) noexcept {
    static_assert(CryptoPP::Keccak_256::DIGESTSIZE == std::tuple_size_v<Hash256>);
    Hash256 out;
    CryptoPP::Keccak_256 hasher;
    hasher.Update(data.data(), data.size());
    hasher.Final(out.data());
    return out;
}

Hash256 keccak256(std::string_view text) noexcept {
    return keccak256(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace forkrun::eth
