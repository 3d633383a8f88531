// The accept loop: admit, make room, or shed; what goes wrong in admitting never ends the loop.
#include "http/acceptor.hpp"

#include <sys/socket.h>
#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <string>
#include <utility>

#include "util/log_line.hpp"
#include "util/timestamp.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// At most this many waiting connections are shed in one go, between two pauses.
constexpr std::size_t kShedBurst = 256;

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

bool out_of_descriptors(const boost::system::error_code& ec) {
    return ec == asio::error::no_descriptors || ec.value() == ENFILE ||
           ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

}  // namespace

Acceptor::Acceptor(asio::io_context& ioc, AdmissionState& state, Serve serve)
    : acceptor_(ioc), state_(state), serve_(std::move(serve)), pause_(ioc) {}

asio::awaitable<void> Acceptor::run() {
    for (;;) {
        boost::system::error_code ec;
        auto socket =
            co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
            co_return;
        }
        bool pause = false;
        try {
            pause = admit(std::move(socket), ec);
        } catch (const std::exception&) {
            pause = true;  // e.g. out of memory: pause, but never let the acceptor die
        }
        if (pause) {
            pause_.expires_after(backoff_.next());
            co_await pause_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
}

void Acceptor::stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    pause_.cancel();
}

// Serves, makes room for, or sheds what accept gave; true when the loop should pause.
bool Acceptor::admit(tcp::socket socket, boost::system::error_code accepted) {
    const bool starved = accepted && out_of_descriptors(accepted);
    if (accepted && !starved) {
        return false;  // the connection went away before we took it
    }
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    if (starved) {
        state_.fd_ceiling = std::max<std::size_t>(1, state_.connections.now());
        state_.fd_ceiling_until =
            now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      AdmissionState::kCeilingLife)
                      .count();
    } else if (state_.fd_ceiling.load() != SIZE_MAX && now >= state_.fd_ceiling_until.load()) {
        state_.fd_ceiling = SIZE_MAX;
    }
    reserve_.restore();  // if a shed or another thread took its descriptor last time
    const auto cap = std::min(state_.max_connections, state_.fd_ceiling.load());
    if (!starved) {
        // Checked and counted in one step: each HTTP thread has an acceptor.
        if (auto slot = state_.connections.try_take(cap)) {
            backoff_.reset();
            serve_(std::move(socket), state_.idle, std::move(*slot));
            return false;
        }
    }
    const char* reason =
        starved || cap < state_.max_connections ? "out of file descriptors" : "connection cap";
    if (!starved) {
        if (auto slot = make_room(state_.connections, *state_.idle)) {
            ++idle_closed_;
            report(reason);
            serve_(std::move(socket), state_.idle, std::move(*slot));
            return false;
        }
    } else if (state_.idle->close_oldest()) {
        ++idle_closed_;
        report(reason);
        return false;  // a descriptor is free now: accept again at once
    }
    if (!starved) {
        boost::system::error_code ec;
        shed_connection(socket.release(ec));  // the one in hand, then those waiting
        ++shed_;
    }
    shed_ += shed_waiting(acceptor_.native_handle(), reserve_, kShedBurst);
    report(reason);
    return true;
}

// One line a second at most while connections are shed or idle ones closed.
void Acceptor::report(std::string_view reason) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report_ < std::chrono::seconds(1)) {
        return;
    }
    last_report_ = now;
    util::LogLine line("http.overload");
    line.str("reason", reason)
        .num("connections", state_.connections.now())
        .num("maxConnections", state_.max_connections)
        .num("shed", std::exchange(shed_, 0))
        .num("idleClosed", std::exchange(idle_closed_, 0));
    util::write_log_line(state_.log, std::move(line).finish());
}

tcp::endpoint listen_together(std::vector<std::unique_ptr<Acceptor>>& acceptors,
                              const tcp::endpoint& at) {
    const bool shared = acceptors.size() > 1;
    tcp::endpoint ep = at;
    for (std::size_t i = 0; i < acceptors.size(); ++i) {
        auto& a = acceptors[i]->socket();
        a.open(ep.protocol());
        a.set_option(tcp::acceptor::reuse_address(true));
        if (i == 0) {
            // The first binds without SO_REUSEPORT, so a port that something else listens on
            // fails here as it would for a single acceptor (and port 0 gets a port of its own);
            // the option, set before listen(), lets the other acceptors join it.
            a.bind(ep);
            ep = a.local_endpoint();
            if (shared) {
                a.set_option(reuse_port(true));
            }
        } else {
            a.set_option(reuse_port(true));
            a.bind(ep);
        }
        a.listen(asio::socket_base::max_listen_connections);
        a.non_blocking(true);  // shedding accepts with accept4(2), which must never wait
    }
    return ep;
}

}  // namespace forkrun::http
