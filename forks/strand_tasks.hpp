// The background tasks of an object that lives on a strand (a fork pool, the forks started
// ahead): each is counted until it ends, so that the object's shutdown can wait for all of them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <memory>
#include <type_traits>

namespace forkrun::forks {

/// Touched on its strand only.
class StrandTasks {
  public:
    explicit StrandTasks(const boost::asio::strand<boost::asio::any_io_executor>& strand);

    /// Runs `task` on the strand, counted until it ends. `owner` (the object this is a member
    /// of) is held until then; `cancel`, when given, can end the task and lives as long.
    void run(boost::asio::awaitable<void> task,
             std::shared_ptr<void> owner,
             std::shared_ptr<boost::asio::cancellation_signal> cancel = nullptr);

    /// Completes once no task is left.
    boost::asio::awaitable<void> all_done();

  private:
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    std::size_t count_ = 0;
    boost::asio::steady_timer done_;  ///< Cancelled whenever count_ drops to 0.
};

/// Awaits `task` on `strand` to its end even when the caller has been cancelled: what gives a
/// fork back or shuts an object down must finish. The caller's throw-if-cancelled setting is
/// restored afterwards, so its own cancellation still shows at its next await.
template <class T>
boost::asio::awaitable<T> run_to_completion(
    boost::asio::strand<boost::asio::any_io_executor> strand,  // by value: a coroutine's own
    boost::asio::awaitable<T> task) {
    namespace asio = boost::asio;
    const bool throw_if_cancelled = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    // No slot: the caller's cancellation does not reach the task.
    if constexpr (std::is_void_v<T>) {
        co_await asio::co_spawn(
            strand, std::move(task),
            asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
        co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
    } else {
        T result = co_await asio::co_spawn(
            strand, std::move(task),
            asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
        co_await asio::this_coro::throw_if_cancelled(throw_if_cancelled);
        co_return result;
    }
}

}  // namespace forkrun::forks
