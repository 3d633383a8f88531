// Forks started ahead: a FIFO of ready forks on a strand, each with a timer for its max age, and
// spawns that refill it at background priority, each a task the object tracks until it ends.
#include "forks/spawn_ahead.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>
#include <vector>

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;

using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// A fork that will not start (an upstream that is down) is tried again at most this often.
constexpr std::chrono::milliseconds kBackoffMin{200};
constexpr std::chrono::milliseconds kBackoffMax{10000};
constexpr std::chrono::milliseconds kStopGrace{1000};
// A replacement starts this long after its fork was taken: its fork() copies the server's page
// tables and its anvil's start takes a core, both while the run that took the fork still needs
// the next milliseconds of its provisioning (at once: p50 6.8-8.2 ms on 2 loaded cores; 50 ms
// later: 2.1-2.4 ms, BENCHMARKS.md).
constexpr std::chrono::milliseconds kReplaceDelay{50};

asio::awaitable<void> stop(std::unique_ptr<AnvilProcess> process) {
    co_await process->stop(kStopGrace);
}

}  // namespace

SpawnAhead::SpawnAhead(asio::any_io_executor ex,
                       std::size_t count,
                       std::chrono::milliseconds max_age,
                       Starter start)
    : strand_(asio::make_strand(std::move(ex))),
      count_(count),
      max_age_(max_age),
      start_(std::move(start)),
      tasks_(strand_) {}

void SpawnAhead::start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        if (self->started_ || self->shutting_down_) {
            return;
        }
        self->started_ = true;
        self->replenish();
    });
}

asio::awaitable<std::optional<SpawnedFork>> SpawnAhead::take() {
    // Held here, not in a lambda: GCC 12 destroys a temporary inside co_await twice.
    auto self = shared_from_this();
    co_return co_await asio::co_spawn(strand_, take_on_strand(), asio::use_awaitable);
}

asio::awaitable<void> SpawnAhead::shutdown() {
    auto self = shared_from_this();
    co_await run_to_completion(strand_, shutdown_on_strand());
}

asio::awaitable<std::optional<SpawnedFork>> SpawnAhead::take_on_strand() {
    while (!shutting_down_ && !ready_.empty()) {
        Entry e = std::move(ready_.front());
        ready_.pop_front();
        counts_.ready.store(ready_.size());
        e.expiry->cancel();
        // Its timer may be due and not yet run: the age is checked here too.
        const bool too_old = Clock::now() - e.fork.ready_at >= max_age_;
        if (too_old || !e.fork.process->running()) {
            (too_old ? counts_.aged : counts_.died).fetch_add(1);
            retire(std::move(e.fork.process));
            replenish();
            continue;
        }
        counts_.taken.fetch_add(1);
        auto later = [](std::shared_ptr<SpawnAhead> self) -> asio::awaitable<void> {
            asio::steady_timer pause(self->strand_, kReplaceDelay);
            co_await pause.async_wait(kUseTuple);
            self->replenish();
        };
        run_tracked(later(shared_from_this()));
        co_return std::move(e.fork);
    }
    counts_.missed.fetch_add(1);
    co_return std::nullopt;
}

asio::awaitable<void> SpawnAhead::shutdown_on_strand() {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (!shutting_down_) {
        shutting_down_ = true;
        std::vector<std::shared_ptr<asio::cancellation_signal>> spawning;
        for (auto& [serial, signal] : spawning_) {
            spawning.push_back(signal);
        }
        for (auto& signal : spawning) {
            signal->emit(asio::cancellation_type::terminal);
        }
        auto ready = std::move(ready_);
        ready_.clear();
        counts_.ready.store(0);
        for (auto& e : ready) {
            e.expiry->cancel();
            retire(std::move(e.fork.process));
        }
    }
    co_await tasks_.all_done();
}

asio::awaitable<void> SpawnAhead::spawn_one(std::uint64_t serial,
                                            std::chrono::milliseconds backoff) {
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto cancel_state = co_await asio::this_coro::cancellation_state;
    auto cancelled = [&] { return cancel_state.cancelled() != asio::cancellation_type::none; };
    if (backoff.count() > 0) {
        asio::steady_timer timer(strand_, backoff);
        co_await timer.async_wait(kUseTuple);
    }
    bool failed = false;
    if (!shutting_down_ && !cancelled()) {
        auto started = co_await start_();
        if (!started) {
            failed = !shutting_down_ && !cancelled();
        } else if (shutting_down_ || cancelled()) {
            retire(std::move(started->process));
        } else {
            started->ready_at = Clock::now();
            auto expiry = std::make_shared<asio::steady_timer>(strand_, max_age_);
            ready_.push_back(Entry{serial, std::move(*started), expiry});
            counts_.ready.store(ready_.size());
            run_tracked(age_out(serial, std::move(expiry)));
            failures_ = 0;
        }
    }
    spawning_.erase(serial);
    if (failed) {
        ++failures_;
    }
    replenish();
}

asio::awaitable<void> SpawnAhead::age_out(std::uint64_t serial,
                                          std::shared_ptr<asio::steady_timer> expiry) {
    auto [ec] = co_await expiry->async_wait(kUseTuple);
    if (ec) {
        co_return;  // taken, or shut down
    }
    const auto it = std::find_if(ready_.begin(), ready_.end(),
                                 [serial](const Entry& e) { return e.serial == serial; });
    if (it == ready_.end()) {
        co_return;
    }
    auto process = std::move(it->fork.process);
    ready_.erase(it);
    counts_.ready.store(ready_.size());
    counts_.aged.fetch_add(1);
    retire(std::move(process));
    replenish();
}

void SpawnAhead::run_tracked(asio::awaitable<void> task,
                             std::shared_ptr<asio::cancellation_signal> cancel) {
    tasks_.run(std::move(task), shared_from_this(), std::move(cancel));
}

void SpawnAhead::retire(std::unique_ptr<AnvilProcess> process) {
    run_tracked(stop(std::move(process)));
}

void SpawnAhead::replenish() {
    if (!started_ || shutting_down_) {
        return;
    }
    while (ready_.size() + spawning_.size() < count_) {
        const auto serial = next_serial_++;
        std::chrono::milliseconds backoff{0};
        if (failures_ > 0) {
            const auto doublings = std::min<std::size_t>(failures_ - 1, 20);
            backoff = std::min(kBackoffMax, kBackoffMin * (std::int64_t{1} << doublings));
        }
        auto signal = std::make_shared<asio::cancellation_signal>();
        spawning_.emplace(serial, signal);
        run_tracked(spawn_one(serial, backoff), std::move(signal));
    }
}

}  // namespace forkrun::forks
