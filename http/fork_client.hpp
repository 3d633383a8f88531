// The rpcUrl gateway's HTTP/1.1 client to its forks: a body is sent on the thread that received
// it, over a connection to the fork kept alive on that thread, so a forwarded call hops to no
// other thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "controller/fork_transport.hpp"

namespace forkrun::http {

/// Limits of the client to the forks.
struct ForkClientConfig {
    /// A bigger answer is not forwarded (decision 26: the gateway forwards up to 64 MiB).
    std::size_t max_response_bytes = 64 << 20;
    /// To open a connection; capped by each call's own timeout.
    std::chrono::milliseconds connect_timeout{5000};
    /// Idle connections kept per fork on each thread; past it a finished connection closes.
    std::size_t max_idle_per_fork = 8;
    /// An idle connection unused for this long is closed when the thread next sends a body.
    std::chrono::milliseconds max_idle_time{30000};
};

/// ForkTransport over Beast. Each io_context keeps its own idle connections (an Asio service of
/// that context), so calls from different threads share nothing. A kept connection the fork has
/// closed is noticed before it is used; one lost before any byte of an answer came is retried
/// once on a new connection (as libcurl does).
class ForkClient final : public controller::ForkTransport {
  public:
    explicit ForkClient(ForkClientConfig config = {}) : config_(config) {}

    boost::asio::awaitable<controller::ForkAnswer> post(const std::string& fork_url,
                                                        std::string body,
                                                        std::chrono::milliseconds timeout) override;

  private:
    ForkClientConfig config_;
};

/// The address of a fork's URL, `http://127.0.0.1:PORT` (forks/anvil_spawn.cpp); nullopt for
/// anything else.
std::optional<boost::asio::ip::tcp::endpoint> fork_endpoint(std::string_view url);

}  // namespace forkrun::http
