// RLP decoding (forks/eth/rlp.hpp) and the EIP-1559 encoding it must agree with
// (forks/eth/eip1559.hpp). Input: raw bytes. Checks: the decoder never reads out of bounds or
// crashes, every accepted input is canonical (re-encoding gives the same bytes), integers read back
// encode to the same item, and an input shaped like a type-2 transaction re-encodes identically
// through Eip1559Tx.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "forks/eth/eip1559.hpp"
#include "forks/eth/rlp.hpp"
#include "fuzz/check.hpp"

namespace {

using namespace forkrun::forks;

// Integers read from byte strings encode back to the same item.
void check_integers(const RlpItem& item, std::size_t& budget) {
    if (budget == 0) {
        return;
    }
    --budget;
    if (item.is_list) {
        FUZZ_CHECK(!rlp_to_uint64(item) && !rlp_to_uint256(item), "a list is not an integer");
        for (const auto& child : item.items) {
            check_integers(child, budget);
        }
        return;
    }
    const std::vector<uint8_t> encoded = rlp_encode(item);
    if (auto v = rlp_to_uint64(item)) {
        std::vector<uint8_t> again;
        rlp_append_uint(again, *v);
        FUZZ_CHECK(again == encoded, "uint64 round trip");
    }
    if (auto v = rlp_to_uint256(item)) {
        std::vector<uint8_t> again;
        rlp_append_uint(again, *v);
        FUZZ_CHECK(again == encoded, "uint256 round trip");
    }
}

std::optional<Uint256> u256(const RlpItem& item) {
    auto v = rlp_to_uint256(item);
    return v ? std::optional<Uint256>(*v) : std::nullopt;
}

std::optional<uint64_t> u64(const RlpItem& item) {
    auto v = rlp_to_uint64(item);
    return v ? std::optional<uint64_t>(*v) : std::nullopt;
}

// 0x02 || rlp([9 fields]) or rlp([12 fields]) with an empty access list: the same bytes again
// through Eip1559Tx (signing payload, or raw signed transaction).
void check_eip1559(std::span<const uint8_t> input) {
    if (input.empty() || input[0] != kEip1559TxType) {
        return;
    }
    auto decoded = rlp_decode(input.subspan(1));
    if (!decoded || !decoded->is_list) {
        return;
    }
    const auto& f = decoded->items;
    if (f.size() != 9 && f.size() != 12) {
        return;
    }
    Eip1559Tx tx;
    auto chain_id = u64(f[0]);
    auto nonce = u64(f[1]);
    auto tip = u256(f[2]);
    auto max_fee = u256(f[3]);
    auto gas = u64(f[4]);
    auto value = u256(f[6]);
    if (!chain_id || !nonce || !tip || !max_fee || !gas || !value || f[5].is_list ||
        (f[5].bytes.size() != 0 && f[5].bytes.size() != 20) || f[7].is_list || !f[8].is_list ||
        !f[8].items.empty()) {
        return;
    }
    tx.chain_id = *chain_id;
    tx.nonce = *nonce;
    tx.max_priority_fee_per_gas = *tip;
    tx.max_fee_per_gas = *max_fee;
    tx.gas_limit = *gas;
    if (f[5].bytes.size() == 20) {
        Address::Bytes to{};
        std::memcpy(to.data(), f[5].bytes.data(), 20);
        tx.to = Address(to);
    }
    tx.value = *value;
    tx.data = f[7].bytes;
    const std::vector<uint8_t> in(input.begin(), input.end());
    if (f.size() == 9) {
        FUZZ_CHECK(tx.signing_payload() == in, "EIP-1559 signing payload round trip");
        return;
    }
    auto y = u64(f[9]);
    if (!y || *y > 1 || f[10].is_list || f[11].is_list || f[10].bytes.size() > 32 ||
        f[11].bytes.size() > 32 || !u256(f[10]) || !u256(f[11])) {
        return;
    }
    RecoverableSignature sig;
    sig.y_parity = static_cast<uint8_t>(*y);
    std::memcpy(sig.r.data() + 32 - f[10].bytes.size(), f[10].bytes.data(), f[10].bytes.size());
    std::memcpy(sig.s.data() + 32 - f[11].bytes.size(), f[11].bytes.data(), f[11].bytes.size());
    FUZZ_CHECK(tx.with_signature(sig).raw == in, "EIP-1559 signed transaction round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::span<const uint8_t> input(data, size);
    auto item = rlp_decode(input);
    if (item) {
        const std::vector<uint8_t> again = rlp_encode(*item);
        FUZZ_CHECK(
            again.size() == size && (size == 0 || std::memcmp(again.data(), data, size) == 0),
            "accepted RLP is canonical");
        std::size_t budget = 4096;
        check_integers(*item, budget);
    } else {
        FUZZ_CHECK(item.error().category() == rlp_category(), "RLP errors are RlpError");
    }
    check_eip1559(input);
    return 0;
}
