// The HTTP/1.1 server: Beast sessions as coroutines, limits and timeouts, graceful stop.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

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
    bool access_log = true;
};

class Server {
  public:
    Server(boost::asio::io_context& ioc, Api& api, ServerConfig config);
    ~Server();

    /// Binds and starts accepting; throws on a bind failure. Returns the bound endpoint.
    boost::asio::ip::tcp::endpoint start();

    /// Stops accepting; sessions answer what they are serving, then close.
    void stop_accepting();

    /// Requests being answered right now.
    std::size_t in_flight() const { return in_flight_.load(); }

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::atomic<std::size_t> in_flight_{0};
};

}  // namespace forkrun::http
