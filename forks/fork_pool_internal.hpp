// The pieces of ForkPool shared by its files: a pool's fork and waiter records, and small helpers.
#pragma once

#include "forks/fork_fingerprint.hpp"
#include "forks/fork_pool.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace forkrun::forks {

namespace detail {

using Clock = std::chrono::steady_clock;

inline constexpr auto kUseTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

inline std::string ms_text(std::chrono::milliseconds d) {
    return std::to_string(d.count()) + " ms";
}

inline bool cancelled(const boost::asio::cancellation_state& state) {
    return state.cancelled() != boost::asio::cancellation_type::none;
}

}  // namespace detail

// The pool's files name these unqualified, as they did when they were one file.
using detail::cancelled;
using detail::Clock;
using detail::kUseTuple;
using detail::ms_text;

struct ForkPool::Fork {
    std::uint64_t serial = 0;
    std::unique_ptr<AnvilProcess> process;
    std::string url;
    std::string snapshot;  ///< Of the outstanding lease; empty when none.
    /// Taken while the fork was idle, for its next lease: no anvil call is on the lease path.
    std::string next_snapshot;
    bool leased = false;       ///< In leased_ (lent out, or handed to a waiter).
    bool dead = false;         ///< Exited on its own.
    bool retired = false;      ///< Removed from the pool; being stopped.
    std::string death;         ///< How it exited, when dead.
    ForkFingerprint baseline;  ///< Read once it was ready; every release must restore it.
};

struct ForkPool::Waiter {
    Waiter(const boost::asio::any_io_executor& ex, Clock::time_point deadline)
        : timer(ex, deadline) {}

    boost::asio::steady_timer timer;  ///< Expires at the deadline; cancelled when served.
    std::shared_ptr<Fork> fork;       ///< Set when served.
    QueueWatch queue;                 ///< Told the waiter's place as it changes.
    std::size_t position = 0;         ///< The place it was last told; 0 once out of the queue.

    void tell(std::size_t at) {
        if (queue && at != position) {
            position = at;
            queue(at);
        }
    }
};

}  // namespace forkrun::forks
