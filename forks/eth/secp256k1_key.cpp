// Private keys, the shared secp256k1 context and recoverable signing on top of libsecp256k1.
#include "forks/eth/secp256k1_key.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>
#include <system_error>

#include <secp256k1_recovery.h>

#include "forks/eth/hex.hpp"

namespace forkrun::eth {
namespace {

// floor(n / 2) for the secp256k1 group order n: Ethereum rejects signatures with s above it.
constexpr std::array<uint8_t, 32> kHalfOrder = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
};

class KeyCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.key"; }
    std::string message(int ev) const override {
        switch (static_cast<KeyError>(ev)) {
            case KeyError::kWrongLength:
                return "private key must be 32 bytes";
            case KeyError::kInvalidHex:
                return "private key is not valid hex";
            case KeyError::kZero:
                return "private key is zero";
            case KeyError::kOutOfRange:
                return "private key is not below the secp256k1 order";
            case KeyError::kBadSignature:
                return "signature does not recover a public key";
        }
        return "unknown key error";
    }
};

// libsecp256k1 broke a documented guarantee (valid key signs, s is normalised); signing on would
// put an invalid transaction on the wire.
[[noreturn]] void broken_invariant(const char* what) noexcept {
    std::fprintf(stderr, "forkrun: secp256k1 invariant broken: %s\n", what);
    std::abort();
}

void secure_wipe(void* data, std::size_t size) noexcept {
    explicit_bzero(data, size);
}

Address address_of(const secp256k1_context* ctx, const secp256k1_pubkey& pubkey) {
    std::array<uint8_t, 65> serialized{};
    std::size_t size = serialized.size();
    secp256k1_ec_pubkey_serialize(ctx, serialized.data(), &size, &pubkey,
                                  SECP256K1_EC_UNCOMPRESSED);
    const Hash256 hash = keccak256(std::span<const uint8_t>(serialized).subspan(1));
    Address::Bytes bytes;
    std::copy(hash.begin() + 12, hash.end(), bytes.begin());
    return Address(bytes);
}

}  // namespace

const boost::system::error_category& key_category() noexcept {
    static const KeyCategory category;
    return category;
}

boost::system::error_code make_error_code(KeyError e) noexcept {
    return {static_cast<int>(e), key_category()};
}

Secp256k1Context::Secp256k1Context() : ctx_(secp256k1_context_create(SECP256K1_CONTEXT_NONE)) {
    std::array<uint8_t, 32> seed{};
    if (getrandom(seed.data(), seed.size(), 0) != static_cast<ssize_t>(seed.size())) {
        const int err = errno;
        secp256k1_context_destroy(ctx_);
        throw std::system_error(err, std::generic_category(), "getrandom for secp256k1 context");
    }
    const int ok = secp256k1_context_randomize(ctx_, seed.data());
    secure_wipe(seed.data(), seed.size());
    if (ok != 1) {
        broken_invariant("context randomization failed");
    }
}

Secp256k1Context::~Secp256k1Context() {
    secp256k1_context_destroy(ctx_);
}

const Secp256k1Context& Secp256k1Context::shared() {
    static const Secp256k1Context context;
    return context;
}

boost::system::result<PrivateKey> PrivateKey::from_bytes(std::span<const uint8_t> bytes,
                                                         const Secp256k1Context& ctx) {
    if (bytes.size() != 32) {
        return make_error_code(KeyError::kWrongLength);
    }
    PrivateKey key;
    std::copy(bytes.begin(), bytes.end(), key.secret_.begin());
    if (std::all_of(key.secret_.begin(), key.secret_.end(), [](uint8_t b) { return b == 0; })) {
        return make_error_code(KeyError::kZero);
    }
    if (secp256k1_ec_seckey_verify(ctx.get(), key.secret_.data()) != 1) {
        return make_error_code(KeyError::kOutOfRange);
    }
    secp256k1_pubkey pubkey;
    if (secp256k1_ec_pubkey_create(ctx.get(), &pubkey, key.secret_.data()) != 1) {
        broken_invariant("public key of a verified secret key");
    }
    key.address_ = address_of(ctx.get(), pubkey);
    return key;
}

boost::system::result<PrivateKey> PrivateKey::from_hex(std::string_view text,
                                                       const Secp256k1Context& ctx) {
    std::array<uint8_t, 32> bytes{};
    if (auto ec = from_hex_into(text, bytes)) {
        return make_error_code(ec == HexError::kInvalidDigit ? KeyError::kInvalidHex
                                                             : KeyError::kWrongLength);
    }
    auto key = from_bytes(bytes, ctx);
    secure_wipe(bytes.data(), bytes.size());
    return key;
}

PrivateKey::PrivateKey(const PrivateKey& other) noexcept
    : secret_(other.secret_), address_(other.address_) {}

PrivateKey::PrivateKey(PrivateKey&& other) noexcept
    : secret_(other.secret_), address_(other.address_) {
    other.wipe();
}

PrivateKey& PrivateKey::operator=(const PrivateKey& other) noexcept {
    secret_ = other.secret_;
    address_ = other.address_;
    return *this;
}

PrivateKey& PrivateKey::operator=(PrivateKey&& other) noexcept {
    if (this != &other) {
        secret_ = other.secret_;
        address_ = other.address_;
        other.wipe();
    }
    return *this;
}

PrivateKey::~PrivateKey() {
    wipe();
}

void PrivateKey::wipe() noexcept {
    secure_wipe(secret_.data(), secret_.size());
    address_ = Address{};
}

RecoverableSignature PrivateKey::sign(const Hash256& digest, const Secp256k1Context& ctx) const {
    secp256k1_ecdsa_recoverable_signature sig;
    if (secp256k1_ecdsa_sign_recoverable(ctx.get(), &sig, digest.data(), secret_.data(), nullptr,
                                         nullptr) != 1) {
        broken_invariant("signing with a verified secret key");
    }
    std::array<uint8_t, 64> compact{};
    int recid = 0;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx.get(), compact.data(), &recid,
                                                            &sig);
    RecoverableSignature out;
    std::copy_n(compact.begin(), 32, out.r.begin());
    std::copy_n(compact.begin() + 32, 32, out.s.begin());
    if (std::memcmp(out.s.data(), kHalfOrder.data(), kHalfOrder.size()) > 0) {
        broken_invariant("high s");
    }
    // 2 and 3 mean r overflowed the order (probability ~2^-127); Ethereum cannot express them.
    if (recid != 0 && recid != 1) {
        broken_invariant("recovery id above 1");
    }
    out.y_parity = static_cast<uint8_t>(recid);
    return out;
}

void PrintTo(const PrivateKey& key, std::ostream* os) {
    *os << "PrivateKey(<redacted>, address " << key.address_ << ")";
}

boost::system::result<Address> recover_address(const Hash256& digest,
                                               const RecoverableSignature& signature,
                                               const Secp256k1Context& ctx) {
    if (signature.y_parity > 1) {
        return make_error_code(KeyError::kBadSignature);
    }
    std::array<uint8_t, 64> compact{};
    std::copy(signature.r.begin(), signature.r.end(), compact.begin());
    std::copy(signature.s.begin(), signature.s.end(), compact.begin() + 32);
    secp256k1_ecdsa_recoverable_signature sig;
    if (secp256k1_ecdsa_recoverable_signature_parse_compact(ctx.get(), &sig, compact.data(),
                                                            signature.y_parity) != 1) {
        return make_error_code(KeyError::kBadSignature);
    }
    secp256k1_pubkey pubkey;
    if (secp256k1_ecdsa_recover(ctx.get(), &pubkey, &sig, digest.data()) != 1) {
        return make_error_code(KeyError::kBadSignature);
    }
    return address_of(ctx.get(), pubkey);
}

}  // namespace forkrun::eth
