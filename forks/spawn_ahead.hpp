// Fresh forks of one chain started before any run asks, for `fork` runs: a run takes one at once
// and its replacement starts in the background; one nobody took within its max age is replaced.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>

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

#include "forks/anvil_process.hpp"
#include "forks/fork_error.hpp"
#include "forks/strand_tasks.hpp"

namespace forkrun::forks {

/// A fork that is up and has answered eth_chainId, and that no run has used.
struct SpawnedFork {
    std::unique_ptr<AnvilProcess> process;
    std::uint32_t start_attempts = 0;  ///< Anvils it took (2: the first did not become ready).
    std::chrono::steady_clock::time_point ready_at;
};

/// What a SpawnAhead did, for /metrics; read without a lock.
struct SpawnAheadCounts {
    std::atomic<std::size_t> ready{0};     ///< Forks waiting to be taken now.
    std::atomic<std::uint64_t> taken{0};   ///< Handed to a run.
    std::atomic<std::uint64_t> missed{0};  ///< Asked for while none was ready.
    std::atomic<std::uint64_t> aged{0};    ///< Replaced at their max age.
    std::atomic<std::uint64_t> died{0};    ///< Found exited before any run took them.
};

/// Keeps `count` forks of one chain started ahead.
///
/// Create it with std::make_shared (background work holds a reference), call start(), and end it
/// with shutdown(). Every member may be called from any coroutine; all state lives on the
/// object's strand. The executor must be the one the forks live on (see AnvilProcess).
class SpawnAhead : public std::enable_shared_from_this<SpawnAhead> {
  public:
    /// Starts one fork (through the spawn limiter at background priority) and waits until it is
    /// ready; sees the awaiting coroutine's cancellation, and then stops what it started.
    using Starter =
        std::function<boost::asio::awaitable<boost::system::result<SpawnedFork, ForkError>>()>;

    SpawnAhead(boost::asio::any_io_executor ex,
               std::size_t count,
               std::chrono::milliseconds max_age,
               Starter start);

    SpawnAhead(const SpawnAhead&) = delete;
    SpawnAhead& operator=(const SpawnAhead&) = delete;

    /// Starts the first `count` forks in the background. Idempotent.
    void start();

    /// The oldest ready fork (none past its max age, none that has exited), now, and a
    /// replacement started; none when none is ready (the caller starts a fork of its own).
    boost::asio::awaitable<std::optional<SpawnedFork>> take();

    /// Stops the spawns in progress and every ready fork, and completes once none is left.
    /// Later takes get none.
    boost::asio::awaitable<void> shutdown();

    const SpawnAheadCounts& counts() const noexcept { return counts_; }

  private:
    struct Entry {
        std::uint64_t serial = 0;
        SpawnedFork fork;
        std::shared_ptr<boost::asio::steady_timer> expiry;  ///< Fires at the max age.
    };

    boost::asio::awaitable<std::optional<SpawnedFork>> take_on_strand();
    boost::asio::awaitable<void> shutdown_on_strand();
    boost::asio::awaitable<void> spawn_one(std::uint64_t serial, std::chrono::milliseconds backoff);
    boost::asio::awaitable<void> age_out(std::uint64_t serial,
                                         std::shared_ptr<boost::asio::steady_timer> expiry);
    /// Runs `task` on the strand, counted until it ends so that shutdown() can wait for it.
    void run_tracked(boost::asio::awaitable<void> task,
                     std::shared_ptr<boost::asio::cancellation_signal> cancel = nullptr);
    /// Stops a fork in the background.
    void retire(std::unique_ptr<AnvilProcess> process);
    /// Starts spawns until ready + starting forks reach `count`.
    void replenish();

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    std::size_t count_;
    std::chrono::milliseconds max_age_;
    Starter start_;

    // Everything below is touched on the strand only.
    bool started_ = false;
    bool shutting_down_ = false;
    std::uint64_t next_serial_ = 1;
    std::size_t failures_ = 0;  ///< Consecutive failed starts; drives the backoff.
    std::deque<Entry> ready_;
    std::map<std::uint64_t, std::shared_ptr<boost::asio::cancellation_signal>> spawning_;
    StrandTasks tasks_;

    SpawnAheadCounts counts_;
};

}  // namespace forkrun::forks
