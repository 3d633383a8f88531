// Test helpers for util::Limiter: acquirers in coroutines of their own on a test's io_context,
// and running it until a condition holds (with a generous bound, never a fixed sleep).
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include <gtest/gtest.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "util/limiter.hpp"

namespace forkrun::util::test {

/// Only a bug comes near it; the machine is shared.
inline constexpr std::chrono::seconds kLimiterBound{120};

/// Runs handlers on the test's thread until `done` holds; fails the test at kLimiterBound.
inline void run_limiter_until(boost::asio::io_context& io, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kLimiterBound;
    io.restart();
    while (!done()) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << "the condition did not hold within the bound";
        io.run_one_for(std::chrono::milliseconds(100));
    }
}

/// Acquires from `limiter` in a coroutine of its own; `permit` is set once it completes.
struct Acquirer {
    std::optional<Permit> permit;
    boost::asio::cancellation_signal cancel;

    void start(boost::asio::io_context& io,
               Limiter& limiter,
               Limiter::Priority priority = Limiter::Priority::kNow) {
        boost::asio::co_spawn(io, limiter.acquire(priority),
                              boost::asio::bind_cancellation_slot(
                                  cancel.slot(), [this](std::exception_ptr e, Permit p) {
                                      ASSERT_FALSE(e);
                                      permit = std::move(p);
                                  }));
    }

    /// Runs `io` until the acquire has completed; then its permit (empty: refused).
    Permit& finish(boost::asio::io_context& io) {
        run_limiter_until(io, [this] { return permit.has_value(); });
        return *permit;
    }
};

/// Starts `holder` and runs until it has its place.
inline void hold_place(boost::asio::io_context& io, Limiter& limiter, Acquirer& holder) {
    holder.start(io, limiter);
    holder.finish(io);
}

/// Runs until `count` acquirers wait for a place.
inline void run_until_limiter_queued(boost::asio::io_context& io,
                                     const Limiter& limiter,
                                     std::size_t count) {
    run_limiter_until(io, [&] { return limiter.queued() == count; });
}

}  // namespace forkrun::util::test
