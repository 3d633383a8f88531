// One WebSocket's JSON-RPC through an rpcUrl, without the socket: each client message is parsed,
// policed and metered exactly like an HTTP body and forwarded under ids of the relay's own, so
// every answer is matched to what is in flight; answers get the client's ids back, and
// subscription notifications pass through.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "forks/cu_table.hpp"
#include "forks/jsonrpc_request.hpp"

namespace forkrun::controller {

namespace detail {
struct GatewayTarget;
struct GatewayCounters;
}  // namespace detail

/// Made by RpcGateway::attach(). Used from the socket's thread only; the fork's release reaches
/// the socket through attach()'s `on_release`.
///
/// A client's notification (a call without an id) is forwarded with an id too and its answer
/// dropped: anvil ignores notifications over WebSocket, and a call the gateway cannot see answered
/// could still land after the fork's release.
class WsRelay {
  public:
    WsRelay(std::shared_ptr<detail::GatewayTarget> target,
            std::uint64_t closer,
            const forks::CuTable& cu,
            const forks::JsonRpcLimits& limits,
            detail::GatewayCounters& counters);
    /// close().
    ~WsRelay();
    WsRelay(const WsRelay&) = delete;
    WsRelay& operator=(const WsRelay&) = delete;

    /// What one message leads to.
    struct Step {
        std::string to_fork;    ///< "": nothing to forward
        std::string to_client;  ///< "": nothing to answer now
    };

    /// One message from the client. Refused and invalid calls are answered at once (a batch's
    /// are added to the fork's answer); the rest is charged to the run and forwarded.
    Step from_client(std::string_view message);

    /// One message from the fork; what to send the client for it (none, one, or more).
    std::vector<std::string> from_fork(std::string_view message);

    /// Messages forwarded and not answered yet.
    std::size_t pending() const { return messages_; }
    /// Calls forwarded and not answered yet (a batch counts each of its calls).
    std::size_t pending_calls() const { return slots_.size(); }

    /// The fork was released (or its run dropped): nothing more is forwarded.
    bool released() const;

    /// The connection to the fork is closed: the relay lets go of the fork. Messages still
    /// unanswered are cut, and a pooled fork is then replaced rather than reused. Idempotent.
    void close();

    const std::string& fork_id() const;
    /// The fork's own address (`http://host:port`); never shown to a client.
    const std::string& fork_url() const;

  private:
    using WireId = std::uint64_t;  // the ids the relay forwards under

    struct Message {
        bool batch = false;
        std::string ours;  // our error objects for the batch, comma-separated
        std::vector<WireId> ids;
        std::size_t calls = 0;
    };
    struct Slot {
        std::shared_ptr<Message> message;
        boost::json::value client_id;
        bool notification = false;
    };
    // Erases the message's slots and ends its place in flight.
    void finish(const Message& m);
    // The answer to a finished message from the fork's answers to its calls.
    std::string answer(const Message& m, std::vector<boost::json::value>& answers) const;

    std::shared_ptr<detail::GatewayTarget> t_;
    std::uint64_t closer_;
    const forks::CuTable& cu_;
    forks::JsonRpcLimits limits_;
    detail::GatewayCounters& counters_;
    std::unordered_map<WireId, Slot> slots_;
    std::size_t messages_ = 0;
    WireId next_id_ = 1;
    bool closed_ = false;
};

}  // namespace forkrun::controller
