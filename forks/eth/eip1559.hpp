// EIP-1559 (type 2) transactions: the signing payload, signing, and the raw bytes for
// eth_sendRawTransaction.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "forks/eth/address.hpp"
#include "forks/eth/keccak.hpp"
#include "forks/eth/secp256k1_key.hpp"
#include "forks/eth/uint256.hpp"

namespace forkrun::eth {

/// A signed transaction ready to broadcast.
struct SignedTx {
    std::vector<uint8_t> raw;  ///< 0x02 || rlp([...fields, y_parity, r, s])
    Hash256 hash{};            ///< keccak256(raw), the transaction hash nodes report
};

/// A type-2 transaction with an empty access list.
struct Eip1559Tx {
    uint64_t chain_id = 0;
    uint64_t nonce = 0;
    Uint256 max_priority_fee_per_gas;
    Uint256 max_fee_per_gas;
    uint64_t gas_limit = 0;
    std::optional<Address> to;  ///< empty for contract creation
    Uint256 value;
    std::vector<uint8_t> data;

    /// 0x02 || rlp([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas_limit, to,
    /// value, data, access_list]).
    std::vector<uint8_t> signing_payload() const;
    /// keccak256(signing_payload()), the digest the sender signs.
    Hash256 signing_hash() const;
    /// The raw transaction with an existing signature.
    SignedTx with_signature(const RecoverableSignature& signature) const;
    /// Signs with key (deterministic: the same transaction and key give the same bytes).
    SignedTx sign(const PrivateKey& key) const;
};

/// The EIP-2718 type byte of EIP-1559 transactions.
inline constexpr uint8_t kEip1559TxType = 0x02;

}  // namespace forkrun::eth
