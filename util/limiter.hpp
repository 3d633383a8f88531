// Caps how many anvil processes start at once (fork/exec until "Listening on"), so that a burst
// of forks cannot starve the machine; spawns beyond the cap wait their turn in FIFO order.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <memory>

namespace forkrun::util {

/// One place among the spawns in progress, held from before fork/exec until the child is
/// listening (or gone). Gives the place back, to the oldest waiter, when released or destroyed.
/// Empty: holds nothing.
class Permit {
  public:
    Permit() = default;
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit();

    /// Gives the place back now; idempotent.
    void release() noexcept;
    explicit operator bool() const noexcept { return static_cast<bool>(state_); }

    struct State;  ///< Opaque; shared by a limiter and its permits.

  private:
    friend class Limiter;
    explicit Permit(std::shared_ptr<State> state);

    std::shared_ptr<State> state_;
};

/// At most `limit` permits out at once; acquirers beyond that wait, served first come first
/// served. Thread-safe: any member may be called from any thread, and acquire() from coroutines
/// on any executor that runs its handlers one at a time (one thread, or a strand).
class Limiter {
  public:
    /// Whose spawn asks for a place: one a run waits for, or one made ahead of any run.
    enum class Priority {
        kNow,         ///< Served in order of asking, before every background waiter.
        kBackground,  ///< Only once no kNow acquirer waits, and never in the last free place.
    };

    /// `limit` 0 is taken as 1.
    explicit Limiter(std::size_t limit);
    ~Limiter();

    Limiter(const Limiter&) = delete;
    Limiter& operator=(const Limiter&) = delete;

    /// A permit, at once when fewer than `limit` are out and nobody waits, else once every
    /// earlier waiter has had one and a place is free. Empty when the limiter is closed, or when
    /// the awaiting coroutine is cancelled while it waits: it leaves the queue at once and never
    /// holds a place. (A cancel that comes after the place was granted leaves the permit to the
    /// caller, who sees its own cancellation and drops it.) A kBackground acquirer waits while
    /// any kNow one does, and takes a place only while another is left free (with a limit of 1,
    /// the only one): a spawn that a run waits for never queues behind one made ahead.
    boost::asio::awaitable<Permit> acquire(Priority priority = Priority::kNow);

    /// Fails every waiter now and every later acquire(); permits already out stay valid.
    void close();

    std::size_t limit() const noexcept;
    /// Permits out now: spawns in progress.
    std::size_t spawning() const noexcept;
    /// The most permits that were ever out at once.
    std::size_t peak_spawning() const noexcept;
    /// Acquires waiting for a place.
    std::size_t queued() const noexcept;
    /// Permits ever handed out.
    std::size_t granted() const noexcept;

  private:
    std::shared_ptr<Permit::State> state_;
};

}  // namespace forkrun::util
