// A coroutine waiting on a run of another member: woken from the store's thread when the
// database signals the run (a NOTIFY), at the poll interval, or at its deadline.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace forkrun::http {

/// Wakes the coroutine's timer from the store's thread; `fired` (touched on the coroutine's
/// executor only) keeps a wake that came while the coroutine was reading.
struct Wake {
    std::shared_ptr<boost::asio::steady_timer> timer = nullptr;
    bool fired = false;
};

/// What a RemoteRuns watch calls: posts the wake to `ex`.
std::function<void()> waker(boost::asio::any_io_executor ex, const std::shared_ptr<Wake>& wake);

/// Waits for a wake, the poll interval or the deadline, whichever is first.
boost::asio::awaitable<void> wait_a_while(Wake& wake,
                                          std::chrono::milliseconds poll,
                                          std::chrono::steady_clock::time_point deadline);

}  // namespace forkrun::http
