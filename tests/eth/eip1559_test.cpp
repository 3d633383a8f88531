// EIP-1559 transactions: checked against viem's signed vectors, field by field through RLP, and by
// recovering the signer the way a node does.
#include <gtest/gtest.h>

#include "eth/vectors.hpp"

#include <span>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "forks/eth/eip1559.hpp"
#include "forks/eth/hex.hpp"
#include "forks/eth/rlp.hpp"
#include "forks/eth/secp256k1_key.hpp"

namespace forkrun::eth {
namespace {

using test::load_vectors;

PrivateKey eip1559_dev_key() {
    return PrivateKey::from_hex(
               "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        .value();
}

Eip1559Tx eip1559_transfer(uint64_t nonce) {
    Eip1559Tx tx;
    tx.chain_id = 31337;
    tx.nonce = nonce;
    tx.max_priority_fee_per_gas = Uint256{1'000'000'000};
    tx.max_fee_per_gas = Uint256{30'000'000'000ULL};
    tx.gas_limit = 21000;
    tx.to = Address::parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8").value();
    tx.value = Uint256::from_decimal("1000000000000000000").value();
    return tx;
}

// The signature carried in a raw type-2 transaction (RLP fields 9, 10, 11).
RecoverableSignature eip1559_signature_of(const std::vector<uint8_t>& raw) {
    const auto decoded = rlp_decode(std::span<const uint8_t>(raw).subspan(1)).value();
    RecoverableSignature sig;
    sig.y_parity = static_cast<uint8_t>(rlp_to_uint64(decoded.items.at(9)).value());
    sig.r = rlp_to_uint256(decoded.items.at(10)).value().to_big_endian();
    sig.s = rlp_to_uint256(decoded.items.at(11)).value().to_big_endian();
    return sig;
}

TEST(SignerEip1559, MatchesViemSignedVectors) {
    const auto doc = load_vectors("eip1559.json");
    const auto key = PrivateKey::from_hex(doc.at("private_key").as_string()).value();
    const auto sender = Address::parse(doc.at("sender").as_string()).value();
    ASSERT_EQ(key.address(), sender);
    const auto& cases = doc.at("cases").as_array();
    ASSERT_GE(cases.size(), 1u);
    for (const auto& c : cases) {
        const std::string name(c.at("name").as_string());
        Eip1559Tx tx;
        tx.chain_id = c.at("chain_id").to_number<uint64_t>();
        tx.nonce = c.at("nonce").to_number<uint64_t>();
        tx.max_priority_fee_per_gas =
            Uint256::from_decimal(c.at("max_priority_fee_per_gas").as_string()).value();
        tx.max_fee_per_gas = Uint256::from_decimal(c.at("max_fee_per_gas").as_string()).value();
        tx.gas_limit = c.at("gas_limit").to_number<uint64_t>();
        if (!c.at("to").is_null()) {
            tx.to = Address::parse(c.at("to").as_string()).value();
        }
        tx.value = Uint256::from_decimal(c.at("value").as_string()).value();
        tx.data = from_hex(c.at("data").as_string()).value();

        const SignedTx signed_tx = tx.sign(key);
        EXPECT_EQ(to_hex(signed_tx.raw), c.at("raw").as_string()) << name;
        EXPECT_EQ(signed_tx.hash, keccak256(signed_tx.raw)) << name;
        EXPECT_EQ(recover_address(tx.signing_hash(), eip1559_signature_of(signed_tx.raw)).value(),
                  sender)
            << name;
    }
}

TEST(SignerEip1559, TransferEncodesEveryFieldAndRecoversTheSender) {
    const auto key = eip1559_dev_key();
    Eip1559Tx tx = eip1559_transfer(7);
    tx.data = {0xa9, 0x05, 0x9c, 0xbb};
    const SignedTx signed_tx = tx.sign(key);

    ASSERT_EQ(signed_tx.raw.at(0), kEip1559TxType);
    const auto decoded = rlp_decode(std::span<const uint8_t>(signed_tx.raw).subspan(1)).value();
    ASSERT_TRUE(decoded.is_list);
    ASSERT_EQ(decoded.items.size(), 12u);
    EXPECT_EQ(rlp_to_uint64(decoded.items[0]).value(), 31337u);
    EXPECT_EQ(rlp_to_uint64(decoded.items[1]).value(), 7u);
    EXPECT_EQ(rlp_to_uint256(decoded.items[2]).value(), Uint256{1'000'000'000});
    EXPECT_EQ(rlp_to_uint256(decoded.items[3]).value(), Uint256{30'000'000'000ULL});
    EXPECT_EQ(rlp_to_uint64(decoded.items[4]).value(), 21000u);
    EXPECT_EQ(to_hex(decoded.items[5].bytes), tx.to->to_lower_hex());
    EXPECT_EQ(rlp_to_uint256(decoded.items[6]).value().to_decimal(), "1000000000000000000");
    EXPECT_EQ(decoded.items[7].bytes, tx.data);
    EXPECT_TRUE(decoded.items[8].is_list);
    EXPECT_TRUE(decoded.items[8].items.empty());

    // The signing payload is the same list without the signature.
    auto unsigned_list = decoded;
    unsigned_list.items.resize(9);
    std::vector<uint8_t> payload{kEip1559TxType};
    const auto unsigned_rlp = rlp_encode(unsigned_list);
    payload.insert(payload.end(), unsigned_rlp.begin(), unsigned_rlp.end());
    EXPECT_EQ(payload, tx.signing_payload());

    EXPECT_EQ(recover_address(tx.signing_hash(), eip1559_signature_of(signed_tx.raw)).value(),
              key.address());
    EXPECT_EQ(tx.with_signature(eip1559_signature_of(signed_tx.raw)).raw, signed_tx.raw);
}

TEST(SignerEip1559, ContractCreationHasEmptyTo) {
    Eip1559Tx tx = eip1559_transfer(0);
    tx.to.reset();
    const auto decoded =
        rlp_decode(std::span<const uint8_t>(tx.sign(eip1559_dev_key()).raw).subspan(1)).value();
    EXPECT_FALSE(decoded.items.at(5).is_list);
    EXPECT_TRUE(decoded.items.at(5).bytes.empty());
}

TEST(SignerEip1559, DifferentFieldsGiveDifferentHashes) {
    const auto key = eip1559_dev_key();
    EXPECT_NE(eip1559_transfer(0).signing_hash(), eip1559_transfer(1).signing_hash());
    Eip1559Tx other_chain = eip1559_transfer(0);
    other_chain.chain_id = 1;
    EXPECT_NE(other_chain.sign(key).hash, eip1559_transfer(0).sign(key).hash);
}

}  // namespace
}  // namespace forkrun::eth
