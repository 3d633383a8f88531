// Private keys, recoverable signatures and EIP-1559 transactions, checked against viem's signed
// vectors and by recovering the signer the way a node does.
#include <gtest/gtest.h>

#include "eth/vectors.hpp"

#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>

#include <boost/json.hpp>

#include "forks/eth/eip1559.hpp"
#include "forks/eth/hex.hpp"
#include "forks/eth/rlp.hpp"
#include "forks/eth/secp256k1_key.hpp"

namespace forkrun::eth {
namespace {

constexpr const char* kDevKey0 =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
constexpr const char* kCurveOrder =
    "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
constexpr const char* kHalfOrder =
    "0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0";

template <class T, class = void>
struct IsStreamable : std::false_type {};
template <class T>
struct IsStreamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<T>())>>
    : std::true_type {};
static_assert(!IsStreamable<PrivateKey>::value, "a private key must not be printable");
static_assert(IsStreamable<Address>::value);

using test::load_vectors;

PrivateKey dev_key() {
    return PrivateKey::from_hex(kDevKey0).value();
}

Eip1559Tx transfer(uint64_t nonce) {
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
RecoverableSignature signature_of(const std::vector<uint8_t>& raw) {
    const auto decoded = rlp_decode(std::span<const uint8_t>(raw).subspan(1)).value();
    RecoverableSignature sig;
    sig.y_parity = static_cast<uint8_t>(rlp_to_uint64(decoded.items.at(9)).value());
    sig.r = rlp_to_uint256(decoded.items.at(10)).value().to_big_endian();
    sig.s = rlp_to_uint256(decoded.items.at(11)).value().to_big_endian();
    return sig;
}

TEST(SignerKey, DevAccountsDeriveTheirAddresses) {
    const auto doc = load_vectors("dev_accounts.json");
    for (const auto& account : doc.at("accounts").as_array()) {
        const auto key = PrivateKey::from_hex(account.at("private_key").as_string());
        ASSERT_TRUE(key) << key.error().message();
        EXPECT_EQ(key->address().to_checksum(), account.at("address").as_string());
    }
    // Without the prefix, and from raw bytes.
    EXPECT_EQ(PrivateKey::from_hex(std::string_view(kDevKey0).substr(2)).value().address(),
              dev_key().address());
    EXPECT_EQ(PrivateKey::from_bytes(from_hex(kDevKey0).value()).value().address(),
              dev_key().address());
}

TEST(SignerKey, RejectsInvalidKeys) {
    EXPECT_EQ(PrivateKey::from_hex("0x" + std::string(64, '0')).error(), KeyError::kZero);
    EXPECT_EQ(PrivateKey::from_hex(kCurveOrder).error(), KeyError::kOutOfRange);
    EXPECT_EQ(PrivateKey::from_hex("0x" + std::string(64, 'f')).error(), KeyError::kOutOfRange);
    EXPECT_EQ(PrivateKey::from_hex("0x1234").error(), KeyError::kWrongLength);
    EXPECT_EQ(PrivateKey::from_hex(std::string(kDevKey0) + "00").error(), KeyError::kWrongLength);
    EXPECT_EQ(PrivateKey::from_hex("0x" + std::string(63, '1') + "z").error(),
              KeyError::kInvalidHex);
    EXPECT_EQ(PrivateKey::from_bytes(std::vector<uint8_t>(31, 1)).error(), KeyError::kWrongLength);
    // n - 1 is the largest valid key.
    EXPECT_TRUE(
        PrivateKey::from_hex("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"));
    EXPECT_TRUE(PrivateKey::from_hex("0x" + std::string(63, '0') + "1"));
}

TEST(SignerKey, PrintsOnlyTheAddress) {
    const std::string printed = testing::PrintToString(dev_key());
    EXPECT_NE(printed.find("redacted"), std::string::npos);
    EXPECT_NE(printed.find("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"), std::string::npos);
    EXPECT_EQ(printed.find("ac0974"), std::string::npos);
    EXPECT_EQ(printed.find("ac 09 74"), std::string::npos);
    EXPECT_EQ(printed.find("AC-09"), std::string::npos);
}

TEST(SignerKey, MovedFromKeyIsWiped) {
    PrivateKey key = dev_key();
    PrivateKey moved = std::move(key);
    EXPECT_EQ(moved.address().to_checksum(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    EXPECT_EQ(key.address(), Address{});  // NOLINT(bugprone-use-after-move): checking the wipe
    PrivateKey copy = moved;
    EXPECT_EQ(copy.address(), moved.address());
}

TEST(SignerSign, SignatureRecoversTheSignerAndHasLowS) {
    const auto key = dev_key();
    const auto half_order = from_hex_fixed<32>(kHalfOrder).value();
    for (int i = 0; i < 64; ++i) {
        const Hash256 digest = keccak256("message " + std::to_string(i));
        const RecoverableSignature sig = key.sign(digest);
        EXPECT_LE(std::memcmp(sig.s.data(), half_order.data(), 32), 0);
        EXPECT_LE(sig.y_parity, 1);
        EXPECT_EQ(recover_address(digest, sig).value(), key.address());
        EXPECT_EQ(key.sign(digest), sig) << "RFC 6979 signing is deterministic";
    }
}

TEST(SignerSign, TamperedSignatureDoesNotRecoverTheSigner) {
    const auto key = dev_key();
    const Hash256 digest = keccak256(std::string_view("hello"));
    RecoverableSignature sig = key.sign(digest);
    sig.y_parity ^= 1;
    const auto other = recover_address(digest, sig);
    EXPECT_TRUE(!other || *other != key.address());
    sig.y_parity = 2;
    EXPECT_EQ(recover_address(digest, sig).error(), KeyError::kBadSignature);
    RecoverableSignature zero;
    EXPECT_EQ(recover_address(digest, zero).error(), KeyError::kBadSignature);
}

TEST(SignerSign, SharedContextIsSafeAcrossThreads) {
    const auto key = dev_key();
    std::vector<RecoverableSignature> expected;
    for (int i = 0; i < 200; ++i) {
        expected.push_back(key.sign(keccak256(std::to_string(i))));
    }
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                if (key.sign(keccak256(std::to_string(i))) != expected[i]) {
                    ++mismatches[t];
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(mismatches, std::vector<int>(4, 0));
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
        EXPECT_EQ(recover_address(tx.signing_hash(), signature_of(signed_tx.raw)).value(), sender)
            << name;
    }
}

TEST(SignerEip1559, TransferEncodesEveryFieldAndRecoversTheSender) {
    const auto key = dev_key();
    Eip1559Tx tx = transfer(7);
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

    EXPECT_EQ(recover_address(tx.signing_hash(), signature_of(signed_tx.raw)).value(),
              key.address());
    EXPECT_EQ(tx.with_signature(signature_of(signed_tx.raw)).raw, signed_tx.raw);
}

TEST(SignerEip1559, ContractCreationHasEmptyTo) {
    Eip1559Tx tx = transfer(0);
    tx.to.reset();
    const auto decoded =
        rlp_decode(std::span<const uint8_t>(tx.sign(dev_key()).raw).subspan(1)).value();
    EXPECT_FALSE(decoded.items.at(5).is_list);
    EXPECT_TRUE(decoded.items.at(5).bytes.empty());
}

TEST(SignerEip1559, DifferentFieldsGiveDifferentHashes) {
    const auto key = dev_key();
    EXPECT_NE(transfer(0).signing_hash(), transfer(1).signing_hash());
    Eip1559Tx other_chain = transfer(0);
    other_chain.chain_id = 1;
    EXPECT_NE(other_chain.sign(key).hash, transfer(0).sign(key).hash);
}

}  // namespace
}  // namespace forkrun::eth
