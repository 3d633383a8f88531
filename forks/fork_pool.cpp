// The warm-fork pool's leases: acquire, release and shutdown run on the pool's strand, waiters
// are served in order through per-waiter timers, and a fork given back goes to the first waiter.
#include "forks/fork_pool_internal.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <utility>
#include <vector>

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;

ForkPool::AcquireResult failure(PoolErrc code, std::string message) {
    return {boost::system::in_place_error, ForkError{code, std::move(message)}};
}

}  // namespace

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
      chain_label_((spec_.chain_id != 0 ? "chain " + std::to_string(spec_.chain_id)
                                        : std::string("anvil's default chain")) +
                   (spec_.fork_block ? " at block " + std::to_string(*spec_.fork_block) : "")),
      tasks_(strand_) {}

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
                                                           MethodMeter meter,
                                                           QueueWatch queue) {
    auto self = shared_from_this();
    auto result = co_await asio::co_spawn(
        strand_, acquire_on_strand(timeout, std::move(meter), std::move(queue)),
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
            fork->next_snapshot = std::exchange(fork->snapshot, {});  // still unused
            self->make_idle(std::move(fork));
        });
        co_return failure(PoolErrc::kCancelled,
                          "acquiring a fork of " + chain_label_ + " was cancelled");
    }
    co_return result;
}

asio::awaitable<PoolRelease> ForkPool::release(PoolLease lease, MethodMeter meter, bool reusable) {
    auto self = shared_from_this();
    // A caller cancelled before this point must still give the fork back.
    auto task = release_on_strand(std::move(lease), std::move(meter), reusable);
    co_return co_await run_to_completion(strand_, std::move(task));
}

asio::awaitable<void> ForkPool::shutdown() {
    auto self = shared_from_this();
    co_await run_to_completion(strand_, shutdown_on_strand());
}

asio::awaitable<ForkPool::AcquireResult> ForkPool::acquire_on_strand(
    std::chrono::milliseconds timeout,
    MethodMeter meter,
    QueueWatch queue) {
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto cancel_state = co_await asio::this_coro::cancellation_state;
    const auto deadline = Clock::now() + timeout;
    auto cancelled_message = [this] {
        return failure(PoolErrc::kCancelled,
                       "acquiring a fork of " + chain_label_ + " was cancelled");
    };
    auto shut_down_message = [this] {
        return failure(PoolErrc::kShutDown, "the fork pool of " + chain_label_ + " is shut down");
    };

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
            waiter->queue = queue;
            waiters_.push_back(waiter);
            update_counts();
            co_await waiter->timer.async_wait(kUseTuple);
            if (auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
                it != waiters_.end()) {
                waiters_.erase(it);
                update_counts();
            }
            waiter->tell(0);
            if (!waiter->fork) {
                if (shutting_down_) {
                    co_return shut_down_message();
                }
                if (cancelled(cancel_state)) {
                    co_return cancelled_message();
                }
                if (Clock::now() >= deadline) {
                    co_return failure(PoolErrc::kLeaseTimeout,
                                      timeout_message(timeout, last_snapshot_error_));
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
        // The snapshot was taken while the fork was idle (ready_for_lease): it is this lease's
        // call, metered to it, but no anvil call is on the lease path.
        if (meter) {
            meter("evm_snapshot");
        }
        fork->snapshot = std::exchange(fork->next_snapshot, {});
        PoolLease lease{fork->url, fork->snapshot, fork->serial, fork->process->pid(), {}};
        if (const auto* head = fork->baseline.fields.if_contains("headNumber");
            head != nullptr && head->is_number()) {
            boost::system::error_code ec;
            if (const auto n = head->to_number<std::uint64_t>(ec); !ec) {
                lease.head_block = n;
            }
        }
        co_return lease;
    }
}

asio::awaitable<PoolRelease> ForkPool::release_on_strand(PoolLease lease,
                                                         MethodMeter meter,
                                                         bool reusable) {
    const auto started = Clock::now();
    PoolRelease out;
    auto finish = [&out, started]() -> PoolRelease {
        out.took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        return std::move(out);
    };

    const auto it = leased_.find(lease.fork_serial);
    if (it == leased_.end() || lease.snapshot_id.empty() ||
        it->second->snapshot != lease.snapshot_id) {
        out.code = shutting_down_ ? PoolErrc::kShutDown : PoolErrc::kNotLeased;
        out.message =
            shutting_down_
                ? "the fork pool of " + chain_label_ + " is shut down; its forks are stopped"
                : "fork " + std::to_string(lease.fork_serial) + " of " + chain_label_ +
                      " has no outstanding lease with snapshot " + lease.snapshot_id +
                      " (released twice?)";
        co_return finish();
    }
    auto fork = it->second;
    fork->snapshot.clear();  // The lease is consumed: a second release fails.

    if (fork->dead) {
        out.code = PoolErrc::kForkDied;
        out.message = chain_label_ + ": the fork process (" + fork->url + ") " + fork->death +
                      " while leased; it was replaced";
        out.destroyed = true;
        destroy(fork);
        co_return finish();
    }

    if (!reusable) {
        // A tainted lease (or one with calls still in flight) changed what a revert cannot be
        // trusted to undo: the fork is never lent again.
        out.destroyed = true;
        out.method = TeardownMethod::kDestroy;
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
        out.code = PoolErrc::kShutDown;
        out.message = "the fork pool of " + chain_label_ + " was shut down during the release";
        out.destroyed = true;
        co_return finish();
    }
    if (reverted && reverted->is_bool() && reverted->as_bool() && !fork->dead) {
        out.reverted = true;
        // anvil_reset restarts the snapshot ids, so `true` alone proves nothing.
        auto mismatch = co_await verify_reverted(fork);
        if (fork->retired) {
            out.code = PoolErrc::kShutDown;
            out.message = "the fork pool of " + chain_label_ + " was shut down during the release";
            out.destroyed = true;
            co_return finish();
        }
        if (mismatch.empty() && !fork->dead) {
            ++readying_;  // counted idle: it is, but for its next snapshot
            update_counts();
            run_tracked(ready_for_lease(std::move(fork)));  // in leased_ until it is idle
            co_return finish();
        }
        out.code = fork->dead ? PoolErrc::kForkDied : PoolErrc::kNotRestored;
        out.message = chain_label_ +
                      ": after evm_revert the fork is not as it was before the lease (" +
                      (fork->dead ? "it " + fork->death : mismatch) +
                      "); it was destroyed and is being replaced";
        out.destroyed = true;
        destroy(fork);
        co_return finish();
    }
    if (fork->dead) {
        out.code = PoolErrc::kForkDied;
        out.message = chain_label_ + ": the fork process (" + fork->url + ") " + fork->death +
                      " during the revert; it was replaced";
    } else if (!reverted) {
        out.code = PoolErrc::kRevertFailed;
        out.message = reverted.error().message + "; the fork was destroyed and is being replaced";
    } else {
        out.code = PoolErrc::kRevertFailed;
        out.message = chain_label_ + ": evm_revert(" + lease.snapshot_id + ") answered " +
                      boost::json::serialize(*reverted) +
                      " instead of true; the fork was destroyed and is being replaced";
    }
    out.destroyed = true;
    destroy(fork);
    co_return finish();
}

asio::awaitable<std::string> ForkPool::verify_reverted(std::shared_ptr<Fork> fork) {
    auto now = co_await read_fingerprint(rpc_, fork->url, options_.call_timeout, chain_label_);
    if (!now) {
        co_return now.error().message;
    }
    if (only_restorable_differences(fork->baseline, *now) &&
        !fingerprint_difference(fork->baseline, *now).empty()) {
        // evm_revert leaves the next base fee where the lease's blocks took it, and keeps queued
        // transactions: set both back, then look again.
        auto restored = co_await restore_settings(rpc_, fork->url, fork->baseline,
                                                  options_.call_timeout, chain_label_);
        if (!restored) {
            co_return restored.error().message;
        }
        now = co_await read_fingerprint(rpc_, fork->url, options_.call_timeout, chain_label_);
        if (!now) {
            co_return now.error().message;
        }
    }
    co_return fingerprint_difference(fork->baseline, *now);
}

asio::awaitable<void> ForkPool::ready_for_lease(std::shared_ptr<Fork> fork) {
    RpcRequest request{fork->url, "evm_snapshot", {}, options_.call_timeout, chain_label_};
    auto snapshot = co_await async_call(rpc_, std::move(request), asio::use_awaitable);
    --readying_;
    if (fork->retired) {
        update_counts();
        co_return;  // shutdown() took it meanwhile.
    }
    if (!fork->dead && snapshot && snapshot->is_string() && !snapshot->as_string().empty()) {
        fork->next_snapshot = std::string(snapshot->as_string());
        leased_.erase(fork->serial);
        make_idle(std::move(fork));
        co_return;
    }
    last_snapshot_error_ =
        fork->dead  ? "fork " + std::to_string(fork->serial) + " " + fork->death
        : !snapshot ? snapshot.error().message
                    : chain_label_ + ": evm_snapshot answered " + boost::json::serialize(*snapshot);
    destroy(fork);  // and replaced
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
    co_await tasks_.all_done();
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
        waiter->tell(0);
        fork->leased = true;
        leased_.emplace(fork->serial, fork);
        waiter->fork = std::move(fork);
        waiter->timer.cancel();
    } else {
        idle_.push_back(std::move(fork));
    }
    update_counts();
}

void ForkPool::update_counts() {
    std::size_t live = idle_.size();
    for (const auto& [serial, fork] : leased_) {
        live += fork->dead ? 0 : 1;
    }
    idle_count_.store(idle_.size() + readying_);
    waiting_count_.store(waiters_.size());
    for (std::size_t i = 0; i < waiters_.size(); ++i) {
        waiters_[i]->tell(i + 1);  // each waiter's place, when it moved
    }
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
