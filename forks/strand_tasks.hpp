// The background tasks of an object that lives on a strand (a fork pool, the forks started
// ahead): each is counted until it ends, so that the object's shutdown can wait for all of them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <cstddef>
#include <memory>

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

}  // namespace forkrun::forks
