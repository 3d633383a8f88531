// Private keys and recoverable signatures, checked against known dev accounts and by recovering the
// signer the way a node does.
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

#include "forks/eth/hex.hpp"
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

}  // namespace
}  // namespace forkrun::eth
