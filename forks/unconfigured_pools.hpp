// The warm pools of chains the configuration does not list: a bounded number of such chains
// have one at once, and each is stopped once no run has held it for the idle time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "forks/fork_error.hpp"
#include "forks/fork_pool.hpp"

namespace forkrun::forks {

class UnconfiguredPools;

/// Keeps the pools of some unconfigured chains from being reaped; when the last hold of a chain
/// ends, its idle clock starts. Move-only; released when destroyed.
class PoolHold {
  public:
    PoolHold() = default;
    PoolHold(PoolHold&& other) noexcept = default;
    PoolHold& operator=(PoolHold&& other) noexcept;
    PoolHold(const PoolHold&) = delete;
    PoolHold& operator=(const PoolHold&) = delete;
    ~PoolHold();

    /// Gives the chains back now (idempotent).
    void release();

  private:
    friend class UnconfiguredPools;
    std::shared_ptr<UnconfiguredPools> owner_;
    std::vector<std::uint64_t> chains_;
};

/// Create with std::make_shared. Thread-safe; reaping runs on `ex`.
class UnconfiguredPools : public std::enable_shared_from_this<UnconfiguredPools> {
  public:
    /// Makes and starts the pool of a chain.
    using Factory = std::function<std::shared_ptr<ForkPool>(std::uint64_t chain_id)>;

    UnconfiguredPools(boost::asio::any_io_executor ex,
                      std::size_t max_chains,
                      std::chrono::milliseconds idle,
                      Factory make);

    /// Holds `chains` (all unconfigured, duplicates allowed), counting each one not held or
    /// pooled yet toward the allowance; fails, holding nothing, when that would pass it:
    /// PoolErrc::kTooManyChains when `chains` alone pass it (no retry can help),
    /// kAllowanceTaken when other chains' pools take the room, kShutDown after close(). The
    /// message names the allowance (maxUnconfiguredChains).
    boost::system::result<PoolHold, ForkError> hold(const std::vector<std::uint64_t>& chains);

    /// The pool of a chain the caller holds, made on first use; null after close() or when the
    /// chain is not held.
    std::shared_ptr<ForkPool> pool(std::uint64_t chain_id);

    /// Stops reaping and holding; every pool left, for the caller to shut down.
    std::vector<std::shared_ptr<ForkPool>> close();

    /// Unconfigured chains held or pooled now.
    std::size_t chains() const;
    std::chrono::milliseconds idle_time() const { return idle_; }

  private:
    friend class PoolHold;
    struct Entry {
        std::size_t holds = 0;
        std::uint64_t generation = 0;  ///< bumped by every hold: a reaper of an older one is stale
        std::shared_ptr<ForkPool> pool;
        std::shared_ptr<boost::asio::steady_timer> reaper;
    };

    void release(const std::vector<std::uint64_t>& chains);

    boost::asio::any_io_executor ex_;
    std::size_t max_chains_;
    std::chrono::milliseconds idle_;
    Factory make_;
    mutable std::mutex mu_;
    std::map<std::uint64_t, Entry> entries_;
    bool closed_ = false;
};

}  // namespace forkrun::forks
