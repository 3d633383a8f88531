// The life of a pool's forks: spawned and checked ready, watched for an early death, retired,
// and replaced with backoff, each step a task the pool tracks until it ends.
#include "forks/fork_pool_internal.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;

constexpr std::chrono::milliseconds kReadyPollInterval{10};
constexpr std::chrono::milliseconds kReadyCallTimeout{2000};

std::chrono::milliseconds left_until(Clock::time_point deadline) {
    return std::max(std::chrono::milliseconds{0},
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
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

/// Whether a fingerprint's forkConfig says the fork was made at `block`.
bool forked_at(const ForkFingerprint& fp, std::uint64_t block) {
    const auto* config = fp.fields.if_contains("forkConfig");
    const auto* obj = config ? config->if_object() : nullptr;
    const auto* at = obj ? obj->if_contains("forkBlockNumber") : nullptr;
    std::error_code ec;
    return at && at->is_number() && at->to_number<std::uint64_t>(ec) == block && !ec;
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
        options.fork_block = spec_.fork_block;
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
                auto fp =
                    co_await read_fingerprint(rpc_, fork->url, kReadyCallTimeout, chain_label_);
                if (fp && spec_.fork_block && !forked_at(*fp, *spec_.fork_block)) {
                    error = chain_label_ +
                            ": a new fork's anvil_nodeInfo does not show it forked "
                            "at block " +
                            std::to_string(*spec_.fork_block);
                } else if (fp) {
                    fork->baseline = std::move(*fp);
                } else {
                    error = chain_label_ + ": " + fp.error().message;
                }
            }
            if (error.empty() && !shutting_down_) {
                spawn_failures_ = 0;
                last_spawn_error_.clear();
                run_tracked(watch(fork));
                fork->leased = true;  // by the pool itself, until its first snapshot is taken
                leased_.emplace(fork->serial, fork);
                ++readying_;
                update_counts();
                run_tracked(ready_for_lease(std::move(fork)));
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
    tasks_.run(std::move(task), shared_from_this(), std::move(cancel));
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

}  // namespace forkrun::forks
