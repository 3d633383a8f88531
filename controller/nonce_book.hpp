// Transaction nonces per (signer, chain): handed out in order across runs, given back when a
// transaction never reached the chain, read again from the chain when it says ours are stale.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "controller/run.hpp"

namespace forkrun::controller {

/// Whose nonces: a signer's address (checksummed) on one chain.
struct NonceKey {
    std::string signer;
    std::uint64_t chain_id = 0;
    auto operator<=>(const NonceKey&) const = default;
};

/// What became of an allocated nonce.
enum class NonceOutcome {
    /// The chain took the transaction: the nonce is used.
    kSent,
    /// The transaction did not reach the chain, or may not have (a transport failure, a cancel):
    /// the nonce is given back and goes to the next transaction, so no gap holds up later ones.
    /// Had it landed after all, that next one is refused as stale and retried.
    kUnsent,
    /// The chain says the nonce is taken already (sent from elsewhere with the same key): the
    /// count is read from the chain again at the next allocation.
    kStale,
};

using NonceResult = boost::system::result<std::uint64_t, ErrorInfo>;

/// Reads the chain's pending transaction count of the key's signer (eth_getTransactionCount at
/// "pending").
using PendingCount = std::function<boost::asio::awaitable<NonceResult>()>;

/// Hands out nonces. Abstract, so that a store shared by several controllers can hold them.
class NonceAllocator {
  public:
    virtual ~NonceAllocator() = default;

    /// The next nonce of `key`; calls `pending` when the allocator holds no count for it (first
    /// use, or after a stale report). Every nonce it gives must be settle()d exactly once.
    virtual boost::asio::awaitable<NonceResult> allocate(const NonceKey& key,
                                                         PendingCount pending) = 0;

    /// Says what became of `nonce`.
    virtual void settle(const NonceKey& key, std::uint64_t nonce, NonceOutcome outcome) = 0;
};

/// Nonces in memory, safe from any thread. The lowest nonce given back is handed out first; a
/// count read from the chain only ever raises the next nonce (several first uses may read it at
/// once; none of them can lower what another already handed out).
class NonceBook final : public NonceAllocator {
  public:
    /// `forget_when_idle`: once none of a key's nonces is outstanding the book drops the key, so
    /// its next use reads the chain again: on a live chain, transactions sent with the same key
    /// from elsewhere, and a nonce given back that nobody took, are then seen. A simulation's own
    /// book keeps its keys (its forks are its own chains).
    explicit NonceBook(bool forget_when_idle) : forget_when_idle_(forget_when_idle) {}

    boost::asio::awaitable<NonceResult> allocate(const NonceKey& key,
                                                 PendingCount pending) override;
    void settle(const NonceKey& key, std::uint64_t nonce, NonceOutcome outcome) override;

    /// Keys the book holds a count for.
    std::size_t size() const;

  private:
    struct Entry {
        std::optional<std::uint64_t> next;  // unset: read the chain
        std::set<std::uint64_t> returned;   // given back, below `next`
        std::size_t outstanding = 0;
        bool stale = false;  // read the chain again, but never hand out less than `next`
    };
    // Holds `mu_`.
    std::uint64_t take(Entry& e);

    const bool forget_when_idle_;
    mutable std::mutex mu_;
    std::map<NonceKey, Entry> entries_;
};

/// One allocated nonce, settled when it goes out of scope (kUnsent unless told otherwise), so a
/// failure or a cancel between allocation and the chain gives it back.
class NonceLease {
  public:
    NonceLease(NonceAllocator& book, NonceKey key, std::uint64_t nonce)
        : book_(book), key_(std::move(key)), nonce_(nonce) {}
    ~NonceLease() { book_.settle(key_, nonce_, outcome_); }
    NonceLease(const NonceLease&) = delete;
    NonceLease& operator=(const NonceLease&) = delete;

    std::uint64_t nonce() const { return nonce_; }
    /// What to settle with at the end.
    void set(NonceOutcome outcome) { outcome_ = outcome; }

  private:
    NonceAllocator& book_;
    NonceKey key_;
    std::uint64_t nonce_;
    NonceOutcome outcome_ = NonceOutcome::kUnsent;
};

}  // namespace forkrun::controller
