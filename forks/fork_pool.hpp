// A per-chain pool of warm anvil forks for `pool` simulations: a lease is a snapshot of an idle
// fork, and giving it back reverts the fork to that snapshot so the next lease sees it unchanged.
#pragma once

#include "forks/anvil_process.hpp"
#include "forks/fork_error.hpp"
#include "forks/rpc_client.hpp"
#include "forks/strand_tasks.hpp"
#include "forks/teardown_method.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace forkrun::forks {

/// What every fork of a pool is started from.
struct ForkSpec {
    std::string anvil_path;
    std::uint64_t chain_id = 0;  ///< 0: anvil's default (or the upstream's id). Else checked.
    std::optional<std::string> upstream_url;  ///< Fork this endpoint; none: a fresh chain.
    /// Fork the upstream at this block (a pinned pool): a fork whose fingerprint does not show
    /// it forked there never joins the pool, so the block is every lease's baseline.
    std::optional<std::uint64_t> fork_block;
    /// Bounds fork/exec to listening, then listening to the first eth_chainId answer (a wait for
    /// a place in spawn_limiter is not counted).
    std::chrono::milliseconds ready_timeout{15000};
    std::shared_ptr<util::Limiter> spawn_limiter;  ///< Caps spawns in progress; null: no cap.
};

/// Limits of a pool; the defaults suit production.
struct ForkPoolOptions {
    std::chrono::milliseconds call_timeout{5000};  ///< Bounds each evm_snapshot and evm_revert.
    std::chrono::milliseconds stop_grace{1000};    ///< SIGTERM to SIGKILL when destroying a fork.
    std::chrono::milliseconds respawn_backoff_min{200};    ///< After the first failed spawn.
    std::chrono::milliseconds respawn_backoff_max{10000};  ///< Doubling stops here.
};

/// Called with the JSON-RPC method name of every call the pool makes on a lease's behalf, so the
/// caller can meter CU. Runs on the pool's strand: it must be short, must not throw, and must be
/// safe to call from the pool's thread.
using MethodMeter = std::function<void(std::string_view method)>;

/// Called with an acquire's place among the pool's waiters (1 first) whenever it changes, and
/// with 0 once it waits no more (served, timed out or cancelled). Runs on the pool's strand, like
/// a MethodMeter.
using QueueWatch = std::function<void(std::size_t position)>;

/// A warm fork lent out until release().
struct PoolLease {
    std::string url;                ///< "http://127.0.0.1:PORT" of the fork.
    std::string snapshot_id;        ///< What release() reverts to.
    std::uint64_t fork_serial = 0;  ///< Unique per fork within the pool (for logs and records).
    pid_t pid = 0;                  ///< The fork's anvil process, for diagnostics.
    /// The fork's head block as lent: the one of its first fingerprint, which every release
    /// proved it back at (so a lease needs no eth_blockNumber to know where it started).
    std::optional<std::uint64_t> head_block;
};

/// The outcome of release().
struct PoolRelease {
    bool reverted = false;   ///< evm_revert answered true.
    bool destroyed = false;  ///< The fork was not reusable: it is being stopped and replaced.
    /// A PoolErrc, or none: the fork was reverted, shown to match its fingerprint and is back in
    /// the pool; or, for a lease that was not reusable, it is being destroyed and replaced as
    /// asked.
    std::error_code code;
    std::string message;  ///< Why not ok(), naming the chain; empty when ok().
    TeardownMethod method = TeardownMethod::kEvmRevert;  ///< kDestroy when not reusable.
    std::chrono::microseconds took{0};

    bool ok() const noexcept { return !code; }
};

/// A pool of `size` warm anvil forks of one chain.
///
/// Create it with std::make_shared (background work holds a reference), call start(), and end it
/// with shutdown(): the destructor only kills what is left, synchronously. Every member may be
/// called from any thread or coroutine; all state lives on the pool's own strand and no member
/// blocks a thread. The forks are spawned from the strand, so the executor's threads must live
/// as long as the forks (see AnvilProcess).
class ForkPool : public std::enable_shared_from_this<ForkPool> {
  public:
    /// A failure's code is a PoolErrc.
    using AcquireResult = boost::system::result<PoolLease, ForkError>;

    /// `rpc` must outlive the pool.
    ForkPool(boost::asio::any_io_executor ex,
             RpcClient& rpc,
             ForkSpec spec,
             std::size_t size,
             ForkPoolOptions options = {});
    ~ForkPool();

    ForkPool(const ForkPool&) = delete;
    ForkPool& operator=(const ForkPool&) = delete;

    /// Fills the pool to `size` in the background, all spawns in parallel; a fork is ready once
    /// eth_chainId answers. Forks that fail to start are retried with exponential backoff.
    /// Idempotent.
    void start();

    /// Takes a free warm fork (waiters are served first come, first served), takes an
    /// evm_snapshot of it (metered) and lends it out. With none free, waits up to `timeout` for
    /// one to be released or replaced, then fails with a sentence naming the chain, the timeout,
    /// the pool size and the last spawn error if any. Cancelling the awaiting coroutine
    /// (terminal cancellation) ends the wait; a fork already taken goes back to the pool.
    boost::asio::awaitable<AcquireResult> acquire(std::chrono::milliseconds timeout,
                                                  MethodMeter meter,
                                                  QueueWatch queue = {});

    /// Reverts the fork to the lease's snapshot (evm_revert, metered, bounded by call_timeout),
    /// sets back the next block's base fee and drops pending transactions, then reads the fork's
    /// fingerprint (unmetered: the pool's own upkeep). Only a revert that answered `true` and a
    /// fingerprint equal to the one taken when the fork started put the fork back in the pool (to
    /// the first waiter, if any); anything else destroys it (stopped and reaped in the
    /// background) and spawns a replacement. `reusable` false (a tainted lease, or calls still in
    /// flight) destroys and replaces the fork without a revert. Runs to completion even if the
    /// awaiting coroutine is cancelled. Releasing a lease twice, or after shutdown(), fails
    /// (PoolErrc::kNotLeased, kShutDown).
    boost::asio::awaitable<PoolRelease> release(PoolLease lease,
                                                MethodMeter meter,
                                                bool reusable = true);

    /// Fails every waiter, stops pending spawns, stops and reaps every fork (leased ones too),
    /// and completes once no process of the pool is left. Later acquires fail at once.
    boost::asio::awaitable<void> shutdown();

    /// Forks that are ready and not lent out.
    std::size_t idle() const noexcept { return idle_count_.load(); }
    /// Forks that are ready, lent out or not (starting ones excluded).
    std::size_t size() const noexcept { return live_count_.load(); }
    /// Acquires waiting for a fork.
    std::size_t waiting() const noexcept { return waiting_count_.load(); }
    /// The chain's label in messages, e.g. "chain 8453".
    const std::string& chain_label() const noexcept { return chain_label_; }

  private:
    struct Fork;
    struct Waiter;

    boost::asio::awaitable<AcquireResult> acquire_on_strand(std::chrono::milliseconds timeout,
                                                            MethodMeter meter,
                                                            QueueWatch queue);
    boost::asio::awaitable<PoolRelease> release_on_strand(PoolLease lease,
                                                          MethodMeter meter,
                                                          bool reusable);
    /// After a revert that answered true: the fork's fingerprint, restored where it can be;
    /// empty when it matches the fork's first one, else why not (a difference, or a failure to
    /// read or restore it).
    boost::asio::awaitable<std::string> verify_reverted(std::shared_ptr<Fork> fork);
    /// Takes the snapshot of `fork`'s next lease, then makes it idle; a fork that cannot take one
    /// is destroyed and replaced. The fork stays in leased_ meanwhile, so shutdown() finds it.
    boost::asio::awaitable<void> ready_for_lease(std::shared_ptr<Fork> fork);
    boost::asio::awaitable<void> shutdown_on_strand();
    boost::asio::awaitable<void> spawn_one(std::uint64_t serial, std::chrono::milliseconds backoff);
    boost::asio::awaitable<void> watch(std::shared_ptr<Fork> fork);
    boost::asio::awaitable<void> retire(std::shared_ptr<Fork> fork);

    /// Runs `task` on the strand, counted until it ends so that shutdown() can wait for it.
    /// `cancel`, when given, can end it and is kept alive until it has ended.
    void run_tracked(boost::asio::awaitable<void> task,
                     std::shared_ptr<boost::asio::cancellation_signal> cancel = nullptr);
    /// Starts spawns until ready + starting forks reach the target size.
    void replenish();
    /// Hands an idle fork to the first waiter, or puts it on the idle list.
    void make_idle(std::shared_ptr<Fork> fork);
    /// Removes a fork from the pool, stops it in the background and spawns a replacement.
    void destroy(const std::shared_ptr<Fork>& fork);
    void update_counts();
    std::string timeout_message(std::chrono::milliseconds timeout,
                                const std::string& last_problem) const;

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    RpcClient& rpc_;
    ForkSpec spec_;
    std::size_t target_;
    ForkPoolOptions options_;
    std::string chain_label_;

    // Everything below is touched on the strand only.
    bool started_ = false;
    bool shutting_down_ = false;
    std::uint64_t next_serial_ = 1;
    std::size_t starting_ = 0;
    std::size_t spawn_failures_ = 0;  ///< Consecutive; drives the backoff.
    std::string last_spawn_error_;
    std::string last_snapshot_error_;  ///< A fork that failed its snapshot, for timeouts.
    std::size_t readying_ = 0;         ///< In ready_for_lease(): counted idle.
    std::deque<std::shared_ptr<Fork>> idle_;
    std::map<std::uint64_t, std::shared_ptr<Fork>> leased_;
    std::deque<std::shared_ptr<Waiter>> waiters_;
    std::map<std::uint64_t, std::shared_ptr<boost::asio::cancellation_signal>> spawning_;
    StrandTasks tasks_;

    std::atomic<std::size_t> idle_count_{0};
    std::atomic<std::size_t> live_count_{0};
    std::atomic<std::size_t> waiting_count_{0};
};

}  // namespace forkrun::forks
