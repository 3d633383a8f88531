// The HTTP/1.1 server: Beast sessions as coroutines, limits and timeouts, graceful stop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "http/api.hpp"

namespace forkrun::http {

struct ServerConfig {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    std::size_t body_limit = 1 << 20;
    std::size_t header_limit = 16 << 10;
    /// A started request must arrive whole within this time.
    std::chrono::milliseconds read_timeout{10000};
    /// A kept-alive connection with no request for this long is closed.
    std::chrono::milliseconds idle_timeout{30000};
    /// Connections served at once, across every thread; 0: default_max_connections() (from
    /// RLIMIT_NOFILE). Past it the connection idle longest is closed to make room, or, with none
    /// idle, the newest are answered 503 and closed.
    std::size_t max_connections = 0;
    bool access_log = true;
    /// Origins allowed cross-origin access (CORS), exactly as browsers send them
    /// (`https://app.example.com`); empty: no CORS headers, OPTIONS routed like any method.
    std::vector<std::string> cors_origins;
    /// Where access-log lines go; null: straight to stderr.
    util::EventLog* log = nullptr;
};

/// Serves on one or more io_contexts, each run by exactly one thread (sessions use no strand).
/// Every context has its own acceptor on the listen address (SO_REUSEPORT: the kernel spreads new
/// connections over them), and a connection stays on the context that accepted it, so the HTTP
/// threads share no reactor, queue or strand.
class Server {
  public:
    Server(std::vector<boost::asio::io_context*> contexts, Api& api, ServerConfig config);
    ~Server();

    /// Binds and starts accepting on every context; throws on a bind failure (also when another
    /// socket listens on the port already). Returns the bound endpoint; with port 0 the first
    /// acceptor gets a free port and the others bind that one.
    boost::asio::ip::tcp::endpoint start();

    /// Stops accepting, on every context; sessions answer what they are serving, then close.
    /// Thread-safe.
    void stop_accepting();

    /// The connection cap in force (the configured one, or the default).
    std::size_t max_connections() const;
    /// Ends every event stream being sent (each closes its connection), and any that starts
    /// later at once; closes every WebSocket rpcUrl (1001). Thread-safe.
    void stop_streams();

    /// Requests being answered right now.
    std::size_t in_flight() const;

    /// Completes once no request is being answered, told so by the last one to finish (nothing
    /// polls), or at `deadline`; true when none is. The caller's executor must be one thread's
    /// (or a strand).
    boost::asio::awaitable<bool> wait_idle(std::chrono::steady_clock::time_point deadline);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace forkrun::http
