// Bounds the runs created but not yet started on the execution thread: a creator waits for room.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <memory>

namespace forkrun::controller {

/// A place in the start backlog, held from creation until the run's execution begins (or the
/// creation fails). Releasing it lets the next waiting creator in. Empty: holds nothing.
class StartSlot {
  public:
    StartSlot() = default;
    StartSlot(StartSlot&& other) noexcept;
    StartSlot& operator=(StartSlot&& other) noexcept;
    StartSlot(const StartSlot&) = delete;
    StartSlot& operator=(const StartSlot&) = delete;
    ~StartSlot();

    /// Gives the place back now (idempotent).
    void release();
    explicit operator bool() const { return static_cast<bool>(state_); }

  private:
    friend class StartGate;
    struct State;
    explicit StartSlot(std::shared_ptr<State> state);
    std::shared_ptr<State> state_;
};

/// Creators queue here in FIFO order once `capacity` runs wait to start. Without it a burst of
/// creations faster than the execution thread piles up every run's transient state at once, and
/// the heap that burst leaves behind stays fragmented by the runs stored after it.
class StartGate {
  public:
    StartGate(boost::asio::any_io_executor ex, std::size_t capacity);
    ~StartGate();

    /// Waits for a place; an empty slot means the gate was closed (the server is stopping).
    boost::asio::awaitable<StartSlot> acquire();

    /// Wakes every waiter with an empty slot, and refuses later ones.
    void close();

    /// Runs holding a place now (for tests and stats).
    std::size_t held() const;

  private:
    std::shared_ptr<StartSlot::State> state_;
};

}  // namespace forkrun::controller
