// The accept loop of one io_context: connections admitted under the connection cap, room made
// or the newest shed under pressure, and a pause instead of a spin when descriptors run out;
// and the acceptors of every context bound together on one port.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "http/admission.hpp"
#include "util/event_log.hpp"

namespace forkrun::http {

/// What every acceptor of one server shares.
struct AdmissionState {
    std::size_t max_connections = 0;
    ConnectionCount connections;
    /// Learnt when accept(2) runs out of descriptors: the connections the process could hold
    /// then. Until it expires no more are admitted, so a descriptor freed for a reserve is not
    /// taken by another thread's next connection; it expires so that room made elsewhere (forks
    /// gone) is found again.
    std::atomic<std::size_t> fd_ceiling{SIZE_MAX};
    std::atomic<std::chrono::steady_clock::rep> fd_ceiling_until{0};
    static constexpr std::chrono::seconds kCeilingLife{10};
    /// Where overload lines go; null: straight to stderr.
    util::EventLog* log = nullptr;
    /// The connections waiting for a request, on every context.
    std::shared_ptr<IdleConnections> idle = std::make_shared<IdleConnections>();
};

/// Accepts on one context. At the cap, or out of descriptors, the connection idle longest on
/// any context is closed to make room; with none idle the newest are answered 503 and closed,
/// and the loop pauses (1 ms, doubling to 100 ms) instead of spinning on accept.
class Acceptor {
  public:
    /// Starts serving an admitted connection: its socket, the server's idle list (for the
    /// session to be listed in while it waits for a request) and its place in the count.
    using Serve = std::function<void(boost::asio::ip::tcp::socket,
                                     std::shared_ptr<IdleConnections>,
                                     ConnectionCount::Slot)>;

    Acceptor(boost::asio::io_context& ioc, AdmissionState& state, Serve serve);

    /// The listening socket, to open, bind and listen before run().
    boost::asio::ip::tcp::acceptor& socket() { return acceptor_; }

    /// Accepts until stop(); runs on the context.
    boost::asio::awaitable<void> run();

    /// Closes the listening socket and ends a pause; call on the context.
    void stop();

  private:
    bool admit(boost::asio::ip::tcp::socket socket, boost::system::error_code accepted);
    void report(std::string_view reason);

    boost::asio::ip::tcp::acceptor acceptor_;
    AdmissionState& state_;
    Serve serve_;
    ReserveFd reserve_;
    Backoff backoff_;
    boost::asio::steady_timer pause_;
    // What pressure did since the last overload line.
    std::size_t shed_ = 0;
    std::size_t idle_closed_ = 0;
    std::chrono::steady_clock::time_point last_report_{};
};

/// Opens, binds and listens every acceptor on `at`, all on one port (SO_REUSEPORT when more
/// than one, so the kernel spreads the connections among them); the endpoint bound (port 0:
/// the one given). Throws when the port cannot be had.
boost::asio::ip::tcp::endpoint listen_together(std::vector<std::unique_ptr<Acceptor>>& acceptors,
                                               const boost::asio::ip::tcp::endpoint& at);

}  // namespace forkrun::http
