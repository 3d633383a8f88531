// A flag that coroutines on one strand can wait for; set() wakes every waiter.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace forkrun::util {

/// Not thread-safe: use it from the strand that owns it.
class AsyncFlag {
  public:
    explicit AsyncFlag(const boost::asio::any_io_executor& ex)
        : timer_(ex, boost::asio::steady_timer::time_point::max()) {}

    void set() {
        set_ = true;
        timer_.cancel();
    }
    void reset() { set_ = false; }
    bool is_set() const { return set_; }

    /// Completes once the flag is set (at once if it already is).
    boost::asio::awaitable<void> wait() {
        while (!set_) {
            boost::system::error_code ec;
            co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        }
    }

  private:
    boost::asio::steady_timer timer_;
    bool set_ = false;
};

}  // namespace forkrun::util
