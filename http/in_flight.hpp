// The requests being answered, counted, and the drain's wait for that count to reach zero.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace forkrun::http {

/// Shared (through a shared_ptr) with every answer under way, so one that outlives the server
/// (a context destroyed after it) touches nothing freed. Thread-safe.
class InFlight {
  public:
    /// Counts one request until the returned guard is destroyed.
    class Request {
      public:
        explicit Request(std::shared_ptr<InFlight> counter);
        Request(const Request&) = delete;
        Request& operator=(const Request&) = delete;
        ~Request();

      private:
        std::shared_ptr<InFlight> counter_;
    };

    /// Requests being answered now.
    std::size_t count() const { return count_.load(); }

    /// Waits, on the caller's executor, until no request is being answered or `deadline`
    /// passes; whether the count reached zero. A request that starts after a wakeup (on a
    /// connection kept alive) is waited for too.
    boost::asio::awaitable<bool> wait_idle(std::chrono::steady_clock::time_point deadline);

  private:
    void done();

    std::atomic<std::size_t> count_{0};
    // Spares the last request the lock while nobody waits.
    std::atomic<bool> watched_{false};
    std::mutex mu_;
    // The timers of wait_idle() callers, each woken (made to expire at once, on its own
    // executor) when the count falls to zero.
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace forkrun::http
