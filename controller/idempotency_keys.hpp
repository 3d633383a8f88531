// Idempotency keys of POST /v1/runs: which run a key created, behind an interface a durable
// store can implement, and the in-memory table of the embedded mode.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace forkrun::controller {

/// What a key's table says about a request that carries one.
struct IdempotencyClaim {
    enum class Outcome {
        kClaimed,     ///< the key is new (or expired): the caller creates, then completes or
                      ///< releases the claim
        kReplay,      ///< the key created `run_id`, answered `status`: replay it
        kMismatch,    ///< the key was used with another body (422)
        kInProgress,  ///< the first request is still being processed after the wait (409)
    };
    Outcome outcome = Outcome::kClaimed;
    std::string run_id;
    unsigned status = 0;
    /// kClaimed: names this claim in complete() and release().
    std::uint64_t ticket = 0;
};

/// Keys per organization. Thread-safe: requests on any HTTP thread share one table.
class IdempotencyKeys {
  public:
    static constexpr std::chrono::hours kTtl{24};

    virtual ~IdempotencyKeys() = default;

    /// Claims `key` of `organization_id` for a body whose digest is `digest`. While another
    /// request holds the key uncompleted, waits for it (at most `wait`, on the caller's
    /// executor): its completion is a replay, its release a new claim.
    virtual boost::asio::awaitable<IdempotencyClaim> claim(std::string organization_id,
                                                           std::string key,
                                                           std::string digest,
                                                           std::chrono::milliseconds wait) = 0;
    /// The claim made run `run_id`, answered `status`: repeats replay it until the key expires.
    virtual void complete(std::uint64_t ticket, std::string run_id, unsigned status) = 0;
    /// The claim made nothing (the request was refused): the key is free again.
    virtual void release(std::uint64_t ticket) = 0;
};

/// The embedded mode's table: keys expire kTtl after their claim; each organization holds at
/// most `max_keys_per_org`, past which its oldest completed key is forgotten early.
class MemoryIdempotencyKeys final : public IdempotencyKeys {
  public:
    static constexpr std::size_t kDefaultMaxKeysPerOrg = 100000;
    using Now = std::function<std::chrono::steady_clock::time_point()>;

    explicit MemoryIdempotencyKeys(std::size_t max_keys_per_org = kDefaultMaxKeysPerOrg,
                                   Now now = nullptr);

    boost::asio::awaitable<IdempotencyClaim> claim(std::string organization_id,
                                                   std::string key,
                                                   std::string digest,
                                                   std::chrono::milliseconds wait) override;
    void complete(std::uint64_t ticket, std::string run_id, unsigned status) override;
    void release(std::uint64_t ticket) override;

    /// Keys held, every organization's (for tests).
    std::size_t size() const;

  private:
    struct Waiter {
        boost::asio::any_io_executor ex;
        std::weak_ptr<boost::asio::steady_timer> timer;
    };
    struct Entry {
        std::string organization_id;
        std::string key;
        std::string digest;
        std::chrono::steady_clock::time_point claimed_at;
        bool done = false;
        std::string run_id;
        unsigned status = 0;
        std::vector<Waiter> waiters;
    };
    struct Org {
        std::unordered_map<std::string, std::uint64_t> by_key;  // key -> ticket
        std::map<std::uint64_t, Entry> by_ticket;               // oldest first
    };

    // The answer for a request now, or nullopt while the key is held; holds `mu_`.
    std::optional<IdempotencyClaim> try_claim_locked(const std::string& organization_id,
                                                     const std::string& key,
                                                     const std::string& digest,
                                                     const Waiter* waiter);
    // Drops expired keys of `org`, then the oldest completed ones past the cap.
    void trim_locked(Org& org);
    // The entry a claim made, or null once it is gone; holds `mu_`.
    Entry* entry_locked(std::uint64_t ticket);
    // Removes the entry and wakes whoever waits for it; holds `mu_`.
    void erase_locked(std::uint64_t ticket);
    static void wake(std::vector<Waiter>& waiters);
    std::chrono::steady_clock::time_point now() const;

    const std::size_t max_keys_per_org_;
    const Now now_;
    mutable std::mutex mu_;
    std::uint64_t next_ticket_ = 1;
    std::unordered_map<std::string, Org> orgs_;
    std::unordered_map<std::uint64_t, std::string> org_of_ticket_;
};

}  // namespace forkrun::controller
