// The warm-fork pool: all state on one strand, forks spawned and replaced by tracked background
// coroutines, waiters served in order through per-waiter timers.
#include "forks/fork_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <utility>
#include <vector>

namespace forkrun::forks {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kReadyPollInterval{10};
constexpr std::chrono::milliseconds kReadyCallTimeout{2000};

std::string ms_text(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

std::chrono::milliseconds left_until(Clock::time_point deadline) {
    return std::max(std::chrono::milliseconds{0},
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

bool cancelled(const asio::cancellation_state& state) {
    return state.cancelled() != asio::cancellation_type::none;
}

/// "0x2105" -> 8453.
std::optional<std::uint64_t> parse_quantity(const boost::json::value& v) {
    if (!v.is_string()) {
        return std::nullopt;
    }
    const std::string_view s = v.as_string();
    if (s.size() < 3 || s.substr(0, 2) != "0x") {
        return std::nullopt;
    }
    std::uint64_t out = 0;
    const auto [end, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), out, 16);
    if (ec != std::errc{} || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return out;
}

ForkPool::AcquireResult failure(std::string message) {
    return {boost::system::in_place_error, std::move(message)};
}

/// How a child ended, from AnvilProcess::wait_exit()'s shell-style status.
std::string describe_exit(const boost::system::result<int>& status) {
    if (!status) {
        return "ended (" + status.error().message() + ")";
    }
    if (*status > 128) {
        const char* abbrev = ::sigabbrev_np(*status - 128);
        return "was killed by " + (abbrev != nullptr ? "SIG" + std::string(abbrev)
                                                     : "signal " + std::to_string(*status - 128));
    }
    return "exited with status " + std::to_string(*status);
}

}  // namespace

struct ForkPool::Fork {
    std::uint64_t serial = 0;
    std::unique_ptr<AnvilProcess> process;
    std::string url;
    std::string snapshot;  ///< Of the outstanding lease; empty when none.
    bool leased = false;   ///< In leased_ (lent out, or handed to a waiter).
    bool dead = false;     ///< Exited on its own.
    bool retired = false;  ///< Removed from the pool; being stopped.
    std::string death;     ///< How it exited, when dead.
};

struct ForkPool::Waiter {
    Waiter(const asio::any_io_executor& ex, Clock::time_point deadline) : timer(ex, deadline) {}

    asio::steady_timer timer;    ///< Expires at the deadline; cancelled when served.
    std::shared_ptr<Fork> fork;  ///< Set when served.
};

ForkPool::ForkPool(asio::any_io_executor ex,
                   RpcClient& rpc,
                   ForkSpec spec,
                   std::size_t size,
                   ForkPoolOptions options)
    : strand_(asio::make_strand(std::move(ex))),
      rpc_(rpc),
      spec_(std::move(spec)),
      target_(size),
      options_(options),
      chain_label_(spec_.chain_id != 0 ? "chain " + std::to_string(spec_.chain_id)
                                       : std::string("anvil's default chain")),
      tasks_done_(strand_, Clock::time_point::max()) {}

// Background tasks hold the pool, so this runs once they are all done (after shutdown()) or when
// the io_context is destroyed; whatever is left is killed and reaped by ~AnvilProcess.
ForkPool::~ForkPool() = default;

void ForkPool::start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        if (self->started_ || self->shutting_down_) {
            return;
        }
        self->started_ = true;
        self->replenish();
    });
}

asio::awaitable<ForkPool::AcquireResult> ForkPool::acquire(std::chrono::milliseconds timeout,
                                                           MethodMeter meter) {
    auto self = shared_from_this();
    auto result = co_await asio::co_spawn(strand_, acquire_on_strand(timeout, std::move(meter)),
                                          asio::use_awaitable);
    // A cancel that reached us after the lease was made (e.g. the losing side of `||`): nobody
    // has used the fork, so it goes back as it is.
    if (result && cancelled(co_await asio::this_coro::cancellation_state)) {
        asio::dispatch(strand_, [self, serial = result->fork_serial] {
            auto it = self->leased_.find(serial);
            if (it == self->leased_.end()) {
                return;
            }
            auto fork = it->second;
            self->leased_.erase(it);
            fork->snapshot.clear();
            self->make_idle(std::move(fork));
        });
        co_return failure("acquiring a fork of " + chain_label_ + " was cancelled");
    }
    co_return result;
}

asio::awaitable<PoolRelease> ForkPool::release(PoolLease lease, MethodMeter meter) {
    auto self = shared_from_this();
    // A caller cancelled before this point must still give the fork back, so this frame's
    // cancellation must not turn the co_await below into an exception.
    const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    auto result = co_await asio::co_spawn(
        strand_, release_on_strand(std::move(lease), std::move(meter)),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
    co_return result;
}

asio::awaitable<void> ForkPool::shutdown() {
    auto self = shared_from_this();
    const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::co_spawn(
        strand_, shutdown_on_strand(),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
}

asio::awaitable<ForkPool::AcquireResult> ForkPool::acquire_on_strand(
    std::chrono::milliseconds timeout,
    MethodMeter meter) {
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto cancel_state = co_await asio::this_coro::cancellation_state;
    const auto deadline = Clock::now() + timeout;
    auto cancelled_message = [this] {
        return failure("acquiring a fork of " + chain_label_ + " was cancelled");
    };
    auto shut_down_message = [this] {
        return failure("the fork pool of " + chain_label_ + " is shut down");
    };

    std::string last_problem;  // A fork that failed its snapshot, for the timeout message.

    for (;;) {
        if (shutting_down_) {
            co_return shut_down_message();
        }
        if (cancelled(cancel_state)) {
            co_return cancelled_message();
        }
        std::shared_ptr<Fork> fork;
        if (waiters_.empty() && !idle_.empty()) {
            fork = std::move(idle_.front());
            idle_.pop_front();
            fork->leased = true;
            leased_.emplace(fork->serial, fork);
            update_counts();
        } else {
            auto waiter = std::make_shared<Waiter>(strand_, deadline);
            waiters_.push_back(waiter);
            update_counts();
            co_await waiter->timer.async_wait(kUseTuple);
            if (auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
                it != waiters_.end()) {
                waiters_.erase(it);
                update_counts();
            }
            if (!waiter->fork) {
                if (shutting_down_) {
                    co_return shut_down_message();
                }
                if (cancelled(cancel_state)) {
                    co_return cancelled_message();
                }
                if (Clock::now() >= deadline) {
                    co_return failure(timeout_message(timeout, last_problem));
                }
                continue;
            }
            fork = std::move(waiter->fork);  // make_idle() has put it in leased_.
        }

        if (fork->retired) {
            co_return shut_down_message();
        }
        if (cancelled(cancel_state) || fork->dead) {
            leased_.erase(fork->serial);
            make_idle(std::move(fork));  // A dead one is destroyed instead.
            continue;                    // Reports the cancel, or waits on.
        }
        if (meter) {
            meter("evm_snapshot");
        }
        RpcRequest request{fork->url, "evm_snapshot", {}, options_.call_timeout, chain_label_};
        auto snapshot = co_await async_call(rpc_, std::move(request), asio::use_awaitable);
        if (fork->retired) {
            co_return shut_down_message();  // shutdown() took it meanwhile.
        }
        if (cancelled(cancel_state) && !fork->dead) {
            // Whether or not the snapshot was taken, the fork itself is unchanged.
            leased_.erase(fork->serial);
            make_idle(std::move(fork));
            co_return cancelled_message();
        }
        if (!snapshot || !snapshot->is_string() || snapshot->as_string().empty()) {
            // Not usable: replace it and try the next one.
            last_problem = fork->dead  ? "fork " + std::to_string(fork->serial) + " " + fork->death
                           : !snapshot ? snapshot.error().message
                                       : chain_label_ + ": evm_snapshot answered " +
                                             boost::json::serialize(*snapshot);
            destroy(fork);
            if (Clock::now() >= deadline) {
                co_return failure(timeout_message(timeout, last_problem));
            }
            continue;
        }
        fork->snapshot = std::string(snapshot->as_string());
        co_return PoolLease{fork->url, fork->snapshot, fork->serial, fork->process->pid()};
    }
}

asio::awaitable<PoolRelease> ForkPool::release_on_strand(PoolLease lease, MethodMeter meter) {
    const auto started = Clock::now();
    PoolRelease out;
    auto finish = [&out, started]() -> PoolRelease {
        out.took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        return std::move(out);
    };

    const auto it = leased_.find(lease.fork_serial);
    if (it == leased_.end() || lease.snapshot_id.empty() ||
        it->second->snapshot != lease.snapshot_id) {
        out.error = shutting_down_ ? "the fork pool of " + chain_label_ +
                                         " is shut down; its forks are stopped"
                                   : "fork " + std::to_string(lease.fork_serial) + " of " +
                                         chain_label_ + " has no outstanding lease with snapshot " +
                                         lease.snapshot_id + " (released twice?)";
        co_return finish();
    }
    auto fork = it->second;
    fork->snapshot.clear();  // The lease is consumed: a second release fails.

    if (fork->dead) {
        out.error = chain_label_ + ": the fork process (" + fork->url + ") " + fork->death +
                    " while leased; it was replaced";
        out.destroyed = true;
        destroy(fork);
        co_return finish();
    }

    if (meter) {
        meter("evm_revert");
    }
    RpcRequest request{fork->url, "evm_revert", boost::json::array{lease.snapshot_id},
                       options_.call_timeout, chain_label_};
    auto reverted = co_await async_call(rpc_, std::move(request), asio::use_awaitable);
    if (fork->retired) {
        out.error = "the fork pool of " + chain_label_ + " was shut down during the release";
        out.destroyed = true;
        co_return finish();
    }
    if (reverted && reverted->is_bool() && reverted->as_bool() && !fork->dead) {
        out.ok = true;
        out.reverted = true;
        leased_.erase(fork->serial);
        make_idle(std::move(fork));
        co_return finish();
    }
    if (fork->dead) {
        out.error = chain_label_ + ": the fork process (" + fork->url + ") " + fork->death +
                    " during the revert; it was replaced";
    } else if (!reverted) {
        out.error = reverted.error().message + "; the fork was destroyed and is being replaced";
    } else {
        out.error = chain_label_ + ": evm_revert(" + lease.snapshot_id + ") answered " +
                    boost::json::serialize(*reverted) +
                    " instead of true; the fork was destroyed and is being replaced";
    }
    out.destroyed = true;
    destroy(fork);
    co_return finish();
}

asio::awaitable<void> ForkPool::shutdown_on_strand() {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (!shutting_down_) {
        shutting_down_ = true;
        for (auto& waiter : waiters_) {
            waiter->timer.cancel();
        }
        std::vector<std::shared_ptr<asio::cancellation_signal>> spawning;
        for (auto& [serial, signal] : spawning_) {
            spawning.push_back(signal);
        }
        for (auto& signal : spawning) {
            signal->emit(asio::cancellation_type::terminal);
        }
        std::vector<std::shared_ptr<Fork>> forks(idle_.begin(), idle_.end());
        for (auto& [serial, fork] : leased_) {
            forks.push_back(fork);
        }
        idle_.clear();
        leased_.clear();
        update_counts();
        for (auto& fork : forks) {
            fork->retired = true;
            run_tracked(retire(std::move(fork)));
        }
    }
    while (tasks_ > 0) {
        co_await tasks_done_.async_wait(kUseTuple);
    }
}

asio::awaitable<void> ForkPool::spawn_one(std::uint64_t serial, std::chrono::milliseconds backoff) {
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto cancel_state = co_await asio::this_coro::cancellation_state;
    std::string error;

    if (backoff.count() > 0) {
        asio::steady_timer timer(strand_, backoff);
        co_await timer.async_wait(kUseTuple);
    }
    if (!shutting_down_ && !cancelled(cancel_state)) {
        AnvilOptions options;
        options.anvil_path = spec_.anvil_path;
        options.chain_id = spec_.chain_id;
        options.fork_url = spec_.upstream_url;
        options.start_timeout = spec_.ready_timeout;
        options.spawn_limiter = spec_.spawn_limiter;
        auto spawned = co_await AnvilProcess::spawn(std::move(options));
        // From here, not from the call: the spawn may have waited for its turn.
        const auto deadline = Clock::now() + spec_.ready_timeout;
        if (!spawned) {
            error = spawned.error().message;
        } else {
            auto fork = std::make_shared<Fork>();
            fork->serial = serial;
            fork->process = std::move(*spawned);
            fork->url = fork->process->url();
            // Ready once eth_chainId answers (with the expected id).
            for (;;) {
                if (shutting_down_ || cancelled(cancel_state)) {
                    error = "cancelled";
                    break;
                }
                RpcRequest request{fork->url,
                                   "eth_chainId",
                                   {},
                                   std::clamp(left_until(deadline), std::chrono::milliseconds{1},
                                              kReadyCallTimeout),
                                   chain_label_};
                auto id = co_await async_call(rpc_, std::move(request), asio::use_awaitable);
                if (id) {
                    const auto chain_id = parse_quantity(*id);
                    if (!chain_id || (spec_.chain_id != 0 && *chain_id != spec_.chain_id)) {
                        error = chain_label_ + ": a new fork answered eth_chainId with " +
                                boost::json::serialize(*id);
                    }
                    break;
                }
                if (Clock::now() >= deadline) {
                    error = "a new fork did not answer eth_chainId within " +
                            ms_text(spec_.ready_timeout) + ": " + id.error().message;
                    break;
                }
                asio::steady_timer pause(strand_, kReadyPollInterval);
                co_await pause.async_wait(kUseTuple);
            }
            if (error.empty() && !shutting_down_) {
                spawn_failures_ = 0;
                last_spawn_error_.clear();
                run_tracked(watch(fork));
                make_idle(std::move(fork));
            } else {
                fork->retired = true;
                run_tracked(retire(std::move(fork)));
            }
        }
    }
    --starting_;
    spawning_.erase(serial);
    if (!error.empty() && !shutting_down_ && !cancelled(cancel_state)) {
        last_spawn_error_ = std::move(error);
        ++spawn_failures_;
    }
    replenish();
}

asio::awaitable<void> ForkPool::watch(std::shared_ptr<Fork> fork) {
    const auto status = co_await fork->process->wait_exit();
    if (fork->retired) {
        co_return;  // We stopped it.
    }
    fork->dead = true;
    fork->death = describe_exit(status);
    if (!fork->leased) {
        destroy(fork);
        co_return;
    }
    // Leased: the holder learns it at release(); a replacement starts now.
    update_counts();
    replenish();
}

asio::awaitable<void> ForkPool::retire(std::shared_ptr<Fork> fork) {
    co_await fork->process->stop(options_.stop_grace);
}

void ForkPool::run_tracked(asio::awaitable<void> task,
                           std::shared_ptr<asio::cancellation_signal> cancel) {
    ++tasks_;
    const auto slot = cancel ? cancel->slot() : asio::cancellation_slot();
    // The handler keeps the signal alive: the coroutine's cancellation state refers to it.
    auto done = [self = shared_from_this(), cancel = std::move(cancel)](const std::exception_ptr&) {
        if (--self->tasks_ == 0) {
            self->tasks_done_.cancel();
        }
    };
    asio::co_spawn(
        strand_, std::move(task),
        asio::bind_cancellation_slot(slot, asio::bind_executor(strand_, std::move(done))));
}

void ForkPool::replenish() {
    if (!started_ || shutting_down_) {
        return;
    }
    while (live_count_.load() + starting_ < target_) {
        ++starting_;
        const auto serial = next_serial_++;
        std::chrono::milliseconds backoff{0};
        if (spawn_failures_ > 0) {
            const auto doublings = std::min<std::size_t>(spawn_failures_ - 1, 20);
            backoff = std::min(options_.respawn_backoff_max,
                               options_.respawn_backoff_min * (std::int64_t{1} << doublings));
        }
        auto signal = std::make_shared<asio::cancellation_signal>();
        spawning_.emplace(serial, signal);
        run_tracked(spawn_one(serial, backoff), std::move(signal));
    }
}

void ForkPool::make_idle(std::shared_ptr<Fork> fork) {
    fork->leased = false;
    if (fork->retired) {
        return;
    }
    if (fork->dead || shutting_down_) {
        destroy(fork);
        return;
    }
    if (!waiters_.empty()) {
        auto waiter = std::move(waiters_.front());
        waiters_.pop_front();
        fork->leased = true;
        leased_.emplace(fork->serial, fork);
        waiter->fork = std::move(fork);
        waiter->timer.cancel();
    } else {
        idle_.push_back(std::move(fork));
    }
    update_counts();
}

void ForkPool::destroy(const std::shared_ptr<Fork>& fork) {
    if (fork->retired) {
        return;
    }
    fork->retired = true;
    fork->leased = false;
    if (auto it = std::find(idle_.begin(), idle_.end(), fork); it != idle_.end()) {
        idle_.erase(it);
    }
    leased_.erase(fork->serial);
    update_counts();
    run_tracked(retire(fork));
    replenish();
}

void ForkPool::update_counts() {
    std::size_t live = idle_.size();
    for (const auto& [serial, fork] : leased_) {
        live += fork->dead ? 0 : 1;
    }
    idle_count_.store(idle_.size());
    waiting_count_.store(waiters_.size());
    live_count_.store(live);
}

std::string ForkPool::timeout_message(std::chrono::milliseconds timeout,
                                      const std::string& last_problem) const {
    auto message = "no warm fork of " + chain_label_ + " became free within " + ms_text(timeout) +
                   " (pool size " + std::to_string(target_) + ")";
    if (!last_spawn_error_.empty()) {
        message += "; the last fork failed to start: " + last_spawn_error_;
    }
    if (!last_problem.empty()) {
        message += "; a fork failed its snapshot: " + last_problem;
    }
    return message;
}

}  // namespace forkrun::forks
