// How the rpcUrl gateway's HTTP path reaches a fork: one POSTed body and the fork's answer,
// awaited on the caller's executor. The HTTP library implements it on its own threads
// (http/fork_client.*), so the controller needs no HTTP library of its own.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace forkrun::controller {

/// A fork's answer to one body, as it came (any HTTP status is an answer), or why none came.
struct ForkAnswer {
    unsigned http_status = 0;
    std::string body;
    /// Set when no complete answer came (no connection, no answer in time, the connection lost,
    /// an answer over the size limit): a sentence that may name the fork's address, which the
    /// gateway redacts.
    std::optional<std::string> error;
};

/// Sends the gateway's bodies to forks.
class ForkTransport {
  public:
    virtual ~ForkTransport() = default;

    /// POSTs `body` (JSON) to the fork at `fork_url` (`http://127.0.0.1:PORT`) and completes on
    /// the caller's executor within `timeout`, the connection included.
    virtual boost::asio::awaitable<ForkAnswer> post(const std::string& fork_url,
                                                    std::string body,
                                                    std::chrono::milliseconds timeout) = 0;
};

}  // namespace forkrun::controller
