// Admission of connections: the connection cap, idle connections closed to make room, the newest
// shed with a 503, a reserve descriptor for when the process runs out, and the accept backoff.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

#include <boost/asio/any_io_executor.hpp>

namespace forkrun::http {

/// The cap when none is configured: RLIMIT_NOFILE less a reserve for everything else the process
/// opens (forks' pipes, JSON-RPC connections, files): a quarter of the limit, at least 128; at
/// least 16 and at most 10,000.
std::size_t default_max_connections();

/// Connections being served, across every HTTP thread. Shared with every session, so a session
/// that outlives the server (its frame destroyed with the io_context) still counts down safely.
class ConnectionCount {
  public:
    /// Counts one connection until the returned slot is destroyed.
    class Slot {
      public:
        Slot() = default;
        explicit Slot(std::shared_ptr<std::atomic<std::size_t>> n) : n_(std::move(n)) {
            n_->fetch_add(1);
        }
        /// Of a count already raised for it (try_take).
        enum Counted { kCounted };
        Slot(std::shared_ptr<std::atomic<std::size_t>> n, Counted) : n_(std::move(n)) {}
        Slot(Slot&&) noexcept = default;
        Slot& operator=(Slot&&) noexcept = default;
        ~Slot() {
            if (n_) {
                n_->fetch_sub(1);
            }
        }

      private:
        std::shared_ptr<std::atomic<std::size_t>> n_;
    };

    ConnectionCount() : n_(std::make_shared<std::atomic<std::size_t>>(0)) {}
    Slot take() { return Slot(n_); }
    /// A slot while fewer than `cap` are counted, taken in one step (two acceptors racing for
    /// the last place cannot both get it); none at the cap.
    std::optional<Slot> try_take(std::size_t cap) {
        auto n = n_->load();
        while (n < cap) {
            if (n_->compare_exchange_weak(n, n + 1)) {
                return Slot(n_, Slot::kCounted);
            }
        }
        return std::nullopt;
    }
    std::size_t now() const { return n_->load(); }

  private:
    std::shared_ptr<std::atomic<std::size_t>> n_;
};

/// The connections of every HTTP thread that wait for their next request, oldest first: under
/// pressure the one idle longest, on whichever thread, is closed to make room (an acceptor
/// whose own thread had none idle used to shed while another thread's were). Thread-safe.
class IdleConnections {
  public:
    /// Lists a connection while it lives (while the session waits for a request).
    class Mark {
      public:
        /// `close` closes the connection (its pending read then ends); it is called on `ex`,
        /// the connection's own executor, and only while this mark still lives.
        Mark(std::shared_ptr<IdleConnections> owner,
             boost::asio::any_io_executor ex,
             std::function<void()> close);
        ~Mark();
        Mark(const Mark&) = delete;
        Mark& operator=(const Mark&) = delete;

        /// Ends the wait (the request's first bytes came, or the read ended): the connection is
        /// no longer listed. True when it was picked to be closed before that: its place is
        /// already promised to a connection past the cap, so the caller must give the
        /// connection up at once (answer 503 and close: decision 90).
        bool release();

      private:
        friend class IdleConnections;
        std::shared_ptr<IdleConnections> owner_;
        boost::asio::any_io_executor ex_;
        // Held by the mark alone; the close dispatched to `ex_` runs it only if the mark (the
        // idle wait) still lives then, so a connection that got a request meanwhile is kept.
        std::shared_ptr<std::function<void()>> close_;
        std::list<Mark*>::iterator at_;
        bool listed_ = true;
        bool released_ = false;  // unlisted by release(), not picked by close_oldest()
    };

    /// Closes the connection idle longest (on its own executor: at once when that is the
    /// caller's). When that one got its request before the close reached it, its session sees
    /// it was picked (Mark::release) and sheds it itself, so the place is freed either way and
    /// nothing else is closed for it. False when none is idle.
    bool close_oldest();
    std::size_t size() const;

  private:
    mutable std::mutex mu_;
    std::list<Mark*> marks_;
};

/// Past the cap: counts the connection in hand first, then closes the connection idle longest to
/// make room for it, so the place that close frees cannot go to another thread's acceptor in
/// between (counted twice: one over the cap for good, a flake of
/// HttpConnections.IdleConnectionsPastTheCapMakeRoomAndHealthzAnswersAtOnce in session 11). The
/// new connection's slot, or none (nothing counted) when no connection is idle.
std::optional<ConnectionCount::Slot> make_room(ConnectionCount& count, IdleConnections& idle);

/// A descriptor kept open so that, with the process out of descriptors, one can still be freed to
/// accept a waiting connection and tell it 503 rather than leave it hanging.
class ReserveFd {
  public:
    ReserveFd();
    ~ReserveFd();
    ReserveFd(const ReserveFd&) = delete;
    ReserveFd& operator=(const ReserveFd&) = delete;

    /// Closes the reserve, if held; true when it did.
    bool release();
    /// Opens the reserve again if it is not held (may fail while descriptors are short).
    void restore();

  private:
    int fd_ = -1;
};

/// Answers an accepted connection 503 and closes it, without waiting (what it sent so far is
/// read and dropped first, so the close is a FIN after the answer, not a reset before it).
void shed_connection(int fd);

/// Accepts up to `max` connections waiting on the non-blocking listening socket `listen_fd`,
/// answers each 503 (an envelope, Retry-After: 1, Connection: close) and closes it at once. When
/// the process has no descriptor left the reserve is spent on one and then restored. Returns how
/// many were shed.
std::size_t shed_waiting(int listen_fd, ReserveFd& reserve, std::size_t max);

/// The accept loop's pause under pressure: 1 ms, doubling, at most 100 ms; back to 1 ms once a
/// connection is admitted.
class Backoff {
  public:
    std::chrono::milliseconds next() {
        const auto d = delay_;
        delay_ = std::min(delay_ * 2, kMax);
        return d;
    }
    void reset() { delay_ = kMin; }

    static constexpr std::chrono::milliseconds kMin{1};
    static constexpr std::chrono::milliseconds kMax{100};

  private:
    std::chrono::milliseconds delay_ = kMin;
};

}  // namespace forkrun::http
