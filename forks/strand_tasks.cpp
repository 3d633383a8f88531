// Counted tasks on a strand: co_spawned with a completion handler that counts them out.
#include "forks/strand_tasks.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <utility>

namespace forkrun::forks {

namespace asio = boost::asio;

StrandTasks::StrandTasks(const asio::strand<asio::any_io_executor>& strand)
    : strand_(strand), done_(strand, std::chrono::steady_clock::time_point::max()) {}

void StrandTasks::run(asio::awaitable<void> task,
                      std::shared_ptr<void> owner,
                      std::shared_ptr<asio::cancellation_signal> cancel) {
    ++count_;
    const auto slot = cancel ? cancel->slot() : asio::cancellation_slot();
    // The handler keeps the signal alive (the coroutine's cancellation state refers to it) and
    // the owner, of which this is a member.
    auto done = [this, owner = std::move(owner),
                 cancel = std::move(cancel)](const std::exception_ptr&) {
        if (--count_ == 0) {
            done_.cancel();
        }
    };
    asio::co_spawn(
        strand_, std::move(task),
        asio::bind_cancellation_slot(slot, asio::bind_executor(strand_, std::move(done))));
}

asio::awaitable<void> StrandTasks::all_done() {
    while (count_ > 0) {
        co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

}  // namespace forkrun::forks
