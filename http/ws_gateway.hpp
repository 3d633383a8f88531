// WebSocket rpcUrls: an upgrade of GET /rpc/<secret> is served here, JSON-RPC carried both ways
// between the client and the fork's own WebSocket endpoint through the gateway's relay.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "controller/rpc_gateway.hpp"

namespace forkrun::http {

/// Limits of a WebSocket rpcUrl.
struct WsConfig {
    /// A client's message (like the HTTP body limit); a bigger one closes the socket (1009).
    std::size_t max_message = 1 << 20;
    /// A message from the fork (like the HTTP gateway's reply limit).
    std::size_t max_fork_message = 64 << 20;
    /// Bytes waiting to be sent to one client: a client that lets more pile up is cut.
    std::size_t max_queued_bytes = 16 << 20;
    /// Calls of one socket in flight to the fork: past it the client's next message waits.
    std::size_t max_pending_calls = 4096;
    /// The opening and closing handshakes, and the connection to the fork.
    std::chrono::milliseconds handshake_timeout{10000};
    /// A silent client is pinged at half of this, and cut when it has not answered by the end.
    std::chrono::milliseconds idle_timeout{30000};
    /// How long calls still in flight are waited for once their client has gone.
    std::chrono::milliseconds call_timeout{30000};
};

/// Serves the WebSocket upgrades of rpcUrls, each on the thread of its connection.
class WsGateway {
  public:
    using Request = boost::beast::http::request<boost::beast::http::string_body>;

    WsGateway(controller::RpcGateway& gateway, WsConfig config);
    ~WsGateway();
    WsGateway(const WsGateway&) = delete;
    WsGateway& operator=(const WsGateway&) = delete;

    /// Whether `req` asks to upgrade an rpcUrl to a WebSocket.
    static bool is_upgrade(const Request& req);

    /// What became of one upgrade, for the access log.
    struct Outcome {
        unsigned status = 101;
        std::string fork_id;
    };

    /// Serves the upgrade `req` on `stream` until the socket has closed: 101 and the relay, or a
    /// JSON-RPC error answered with 404 (unknown secret), 410 (released) or 502 (fork
    /// unreachable).
    boost::asio::awaitable<Outcome> serve(boost::beast::tcp_stream stream, Request req);

    /// Closes every socket (1001, "server shutting down"), and any upgraded later. Thread-safe.
    void stop();

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace forkrun::http
