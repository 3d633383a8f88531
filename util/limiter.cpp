// The spawn cap: a count of places out and two FIFOs of waiters (runs' spawns first, spawns made
// ahead after them) under one mutex. A waiter sleeps on
// a timer of its own executor, and is woken by a cancel posted there, never under the lock.
#include "util/limiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace forkrun::util {

namespace asio = boost::asio;

struct Permit::State {
    struct Waiter {
        explicit Waiter(const asio::any_io_executor& ex)
            : wake(ex, std::chrono::steady_clock::time_point::max()) {}

        asio::steady_timer wake;  ///< Cancelled, on its own executor, to wake the waiter.
        bool granted = false;     ///< Guarded by the limiter's mutex.
        bool background = false;  ///< Waits in `later`, behind every waiter of `queue`.
    };

    explicit State(std::size_t limit) : limit(limit) {}

    /// Takes a place now if one is free and nobody waits (true), or queues `waiter` (false).
    /// Closed: neither, and `waiter` is not queued.
    bool take_or_queue(const std::shared_ptr<Waiter>& waiter, bool& is_closed) {
        std::lock_guard lock(mutex);
        is_closed = closed;
        if (closed) {
            return false;
        }
        if (waiter->background ? queue.empty() && later.empty() && out < background_limit()
                               : queue.empty() && out < limit) {
            grant_locked();
            return true;
        }
        (waiter->background ? later : queue).push_back(waiter);
        queued.store(queue.size() + later.size());
        return false;
    }

    /// Places a background spawn may fill: all but one, so a run's spawn finds one free.
    std::size_t background_limit() const { return limit > 1 ? limit - 1 : 1; }

    /// After the wake-up: whether `waiter` got a place; if not, it leaves the queue.
    bool settle(const std::shared_ptr<Waiter>& waiter) {
        std::lock_guard lock(mutex);
        if (waiter->granted) {
            return true;
        }
        auto& in = waiter->background ? later : queue;
        if (const auto it = std::find(in.begin(), in.end(), waiter); it != in.end()) {
            in.erase(it);
            queued.store(queue.size() + later.size());
        }
        return false;
    }

    /// A permit came back: its place goes to the oldest waiter of a run, else to the oldest
    /// background one if it may have it.
    void give_back() {
        std::shared_ptr<Waiter> next;
        {
            std::lock_guard lock(mutex);
            --out;
            spawning.store(out);
            if (closed) {
                return;
            }
            if (!queue.empty() && out < limit) {
                next = std::move(queue.front());
                queue.pop_front();
            } else if (queue.empty() && !later.empty() && out < background_limit()) {
                next = std::move(later.front());
                later.pop_front();
            } else {
                return;
            }
            queued.store(queue.size() + later.size());
            next->granted = true;
            grant_locked();
        }
        wake(std::move(next));
    }

    void close() {
        std::deque<std::shared_ptr<Waiter>> waiting;
        {
            std::lock_guard lock(mutex);
            closed = true;
            waiting.swap(queue);
            waiting.insert(waiting.end(), later.begin(), later.end());
            later.clear();
            queued.store(0);
        }
        for (auto& w : waiting) {
            wake(std::move(w));
        }
    }

    void grant_locked() {
        ++out;
        spawning.store(out);
        peak_spawning.store(std::max(peak_spawning.load(), out));
        granted.fetch_add(1);
    }

    static void wake(std::shared_ptr<Waiter> waiter) {
        const auto ex = waiter->wake.get_executor();
        asio::post(ex, [waiter = std::move(waiter)] { waiter->wake.cancel(); });
    }

    const std::size_t limit;

    std::mutex mutex;
    std::size_t out = 0;  ///< Places granted and not given back; the rest guarded by mutex too.
    bool closed = false;
    std::deque<std::shared_ptr<Waiter>> queue;  ///< Runs' spawns.
    std::deque<std::shared_ptr<Waiter>> later;  ///< Background spawns, served after `queue`.

    // Copies for readers that take no lock.
    std::atomic<std::size_t> spawning{0};
    std::atomic<std::size_t> peak_spawning{0};
    std::atomic<std::size_t> queued{0};
    std::atomic<std::size_t> granted{0};
};

Permit::Permit(std::shared_ptr<State> state) : state_(std::move(state)) {}

Permit::Permit(Permit&& other) noexcept : state_(std::move(other.state_)) {}

Permit& Permit::operator=(Permit&& other) noexcept {
    if (this != &other) {
        release();
        state_ = std::move(other.state_);
    }
    return *this;
}

Permit::~Permit() {
    release();
}

void Permit::release() noexcept {
    if (auto state = std::move(state_)) {
        state->give_back();
    }
}

Limiter::Limiter(std::size_t limit)
    : state_(std::make_shared<Permit::State>(std::max<std::size_t>(limit, 1))) {}

Limiter::~Limiter() {
    close();
}

asio::awaitable<Permit> Limiter::acquire(Priority priority) {
    auto state = state_;
    auto waiter = std::make_shared<Permit::State::Waiter>(co_await asio::this_coro::executor);
    waiter->background = priority == Priority::kBackground;
    bool is_closed = false;
    if (state->take_or_queue(waiter, is_closed)) {
        co_return Permit(std::move(state));
    }
    if (is_closed) {
        co_return Permit{};
    }
    // Ends when woken (a place, or closed) or when the awaiting coroutine is cancelled.
    co_await waiter->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    if (state->settle(waiter)) {
        co_return Permit(std::move(state));
    }
    co_return Permit{};
}

void Limiter::close() {
    state_->close();
}

std::size_t Limiter::limit() const noexcept {
    return state_->limit;
}

std::size_t Limiter::spawning() const noexcept {
    return state_->spawning.load();
}

std::size_t Limiter::peak_spawning() const noexcept {
    return state_->peak_spawning.load();
}

std::size_t Limiter::queued() const noexcept {
    return state_->queued.load();
}

std::size_t Limiter::granted() const noexcept {
    return state_->granted.load();
}

}  // namespace forkrun::util
