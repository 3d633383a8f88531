// secp256k1 signing keys: the shared libsecp256k1 context, private keys that wipe themselves and
// cannot be printed, address derivation, and recoverable ECDSA signatures as Ethereum uses them.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string_view>

#include <secp256k1.h>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "forks/eth/address.hpp"
#include "forks/eth/keccak.hpp"

namespace forkrun::eth {

/// Why a key or signature was rejected.
enum class KeyError {
    kWrongLength = 1,  ///< a private key must be exactly 32 bytes (64 hex digits)
    kInvalidHex,       ///< the key text is not hex
    kZero,             ///< the zero key has no public key
    kOutOfRange,       ///< the key is not below the curve order
    kBadSignature,     ///< r or s out of range, or no public key recovers from the signature
};

/// The error category of KeyError ("forkrun.key").
const boost::system::error_category& key_category() noexcept;
boost::system::error_code make_error_code(KeyError e) noexcept;

/// Owns a libsecp256k1 context, randomized once at construction (side-channel blinding).
/// After construction it is only used through const pointers, which libsecp256k1 allows from
/// many threads at once.
class Secp256k1Context {
  public:
    /// Creates and randomizes a context; throws std::system_error when the OS has no randomness.
    Secp256k1Context();
    ~Secp256k1Context();
    Secp256k1Context(const Secp256k1Context&) = delete;
    Secp256k1Context& operator=(const Secp256k1Context&) = delete;

    /// The process-wide context, created on first use (thread-safe initialisation).
    static const Secp256k1Context& shared();

    const secp256k1_context* get() const noexcept { return ctx_; }

  private:
    secp256k1_context* ctx_;
};

/// An ECDSA signature with its recovery bit, s in the lower half of the curve order.
struct RecoverableSignature {
    std::array<uint8_t, 32> r{};
    std::array<uint8_t, 32> s{};
    uint8_t y_parity = 0;  ///< 0 or 1

    friend bool operator==(const RecoverableSignature&, const RecoverableSignature&) = default;
};

/// A secp256k1 private key with its derived address. The secret is wiped when the object dies
/// (copies wipe their own copy, a moved-from key is wiped) and there is no way to print it.
class PrivateKey {
  public:
    /// From 32 big-endian bytes; rejects zero and values >= the curve order.
    static boost::system::result<PrivateKey> from_bytes(
        std::span<const uint8_t> bytes,
        const Secp256k1Context& ctx = Secp256k1Context::shared());
    /// From 64 hex digits with optional "0x".
    static boost::system::result<PrivateKey> from_hex(
        std::string_view text,
        const Secp256k1Context& ctx = Secp256k1Context::shared());

    PrivateKey(const PrivateKey& other) noexcept;
    PrivateKey(PrivateKey&& other) noexcept;
    PrivateKey& operator=(const PrivateKey& other) noexcept;
    PrivateKey& operator=(PrivateKey&& other) noexcept;
    ~PrivateKey();

    /// keccak256(uncompressed public key without its 0x04 prefix)[12..32].
    const Address& address() const noexcept { return address_; }

    /// Signs a 32-byte digest (RFC 6979 nonce, so deterministic); s is always low.
    RecoverableSignature sign(const Hash256& digest,
                              const Secp256k1Context& ctx = Secp256k1Context::shared()) const;

    /// Test-failure output shows the address only.
    friend void PrintTo(const PrivateKey& key, std::ostream* os);

  private:
    PrivateKey() noexcept = default;
    void wipe() noexcept;

    std::array<uint8_t, 32> secret_{};
    Address address_;
};

/// The address whose key produced signature over digest (what a node does to find `from`).
boost::system::result<Address> recover_address(
    const Hash256& digest,
    const RecoverableSignature& signature,
    const Secp256k1Context& ctx = Secp256k1Context::shared());

}  // namespace forkrun::eth

template <>
struct boost::system::is_error_code_enum<forkrun::eth::KeyError> : std::true_type {};
