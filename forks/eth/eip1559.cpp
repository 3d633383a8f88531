// EIP-1559 encoding: the field list is shared by the signing payload and the signed transaction,
// which appends y_parity, r and s.
#include "forks/eth/eip1559.hpp"

#include <algorithm>

#include "forks/eth/rlp.hpp"

namespace forkrun::eth {
namespace {

// The nine unsigned fields, each RLP-encoded and concatenated (a list payload without header).
void append_fields(std::vector<uint8_t>& out, const Eip1559Tx& tx) {
    rlp_append_uint(out, tx.chain_id);
    rlp_append_uint(out, tx.nonce);
    rlp_append_uint(out, tx.max_priority_fee_per_gas);
    rlp_append_uint(out, tx.max_fee_per_gas);
    rlp_append_uint(out, tx.gas_limit);
    if (tx.to) {
        rlp_append_bytes(out, tx.to->bytes());
    } else {
        rlp_append_bytes(out, {});
    }
    rlp_append_uint(out, tx.value);
    rlp_append_bytes(out, tx.data);
    rlp_append_list_header(out, 0);  // access list
}

// Signature scalars are RLP integers: leading zero bytes dropped.
std::span<const uint8_t> strip_leading_zeros(const std::array<uint8_t, 32>& scalar) {
    const auto first = std::find_if(scalar.begin(), scalar.end(), [](uint8_t b) { return b != 0; });
    return {first, scalar.end()};
}

std::vector<uint8_t> typed_envelope(const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> out;
    out.reserve(payload.size() + 10);
    out.push_back(kEip1559TxType);
    rlp_append_list_header(out, payload.size());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

}  // namespace

std::vector<uint8_t> Eip1559Tx::signing_payload() const {
    std::vector<uint8_t> fields;
    fields.reserve(128 + data.size());
    append_fields(fields, *this);
    return typed_envelope(fields);
}

Hash256 Eip1559Tx::signing_hash() const {
    return keccak256(signing_payload());
}

SignedTx Eip1559Tx::with_signature(const RecoverableSignature& signature) const {
    std::vector<uint8_t> fields;
    fields.reserve(200 + data.size());
    append_fields(fields, *this);
    rlp_append_uint(fields, uint64_t{signature.y_parity});
    rlp_append_bytes(fields, strip_leading_zeros(signature.r));
    rlp_append_bytes(fields, strip_leading_zeros(signature.s));
    SignedTx out;
    out.raw = typed_envelope(fields);
    out.hash = keccak256(out.raw);
    return out;
}

SignedTx Eip1559Tx::sign(const PrivateKey& key) const {
    return with_signature(key.sign(signing_hash()));
}

}  // namespace forkrun::eth
