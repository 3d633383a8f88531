// The rpcUrl gateway: an unguessable secret per fork; each JSON-RPC body (or WebSocket message) is
// parsed once, every call in it policed by the method policy and metered into the run, and only
// what was parsed is written on to the fork. Once the fork is released the rpcUrl refuses service
// and its WebSockets are closed.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "controller/fork_transport.hpp"
#include "controller/run_record.hpp"
#include "controller/ws_relay.hpp"
#include "forks/cu_table.hpp"
#include "forks/jsonrpc_request.hpp"
#include "forks/rpc_client.hpp"

namespace forkrun::controller {

// detail::GatewayTarget and detail::GatewayCounters are declared in ws_relay.hpp.

/// JSON-RPC error codes of the gateway's own answers.
inline constexpr int kGatewayNotFoundCode = -32001;     ///< 404: no fork at this rpcUrl.
inline constexpr int kGatewayReleasedCode = -32002;     ///< 410: the fork was released.
inline constexpr int kGatewayUnreachableCode = -32003;  ///< 502: the fork cannot be reached.
inline constexpr std::string_view kGatewayReleasedMessage =
    "this fork was released; its rpcUrl no longer serves";

struct GatewayReply {
    unsigned status = 200;
    std::string body;  // JSON-RPC, as the fork answered or as the gateway refuses
    /// The fork the secret names ("" when it names none): what a log may show instead of the
    /// secret.
    std::string fork_id = {};
};

/// Limits of the gateway.
struct GatewayLimits {
    forks::JsonRpcLimits jsonrpc;                   ///< Depth and batch size of a request body.
    std::chrono::milliseconds call_timeout{30000};  ///< One forwarded body, to its answer.
};

/// What the gateway did with the calls it received, since it started (for /metrics).
struct GatewayCounts {
    std::uint64_t forwarded = 0;      ///< Calls sent on to a fork.
    std::uint64_t refused = 0;        ///< Calls the method policy refused.
    std::uint64_t invalid = 0;        ///< Bodies or calls that are not valid JSON-RPC.
    std::uint64_t not_found = 0;      ///< Bodies sent to an unknown rpcUrl.
    std::uint64_t gone = 0;           ///< Bodies sent to a released fork.
    std::uint64_t failed = 0;         ///< Calls whose fork could not be reached.
    std::uint64_t sockets = 0;        ///< WebSockets open on an rpcUrl now.
    std::uint64_t notifications = 0;  ///< Subscription notifications relayed to WebSockets.
};

/// The answer to a WebSocket upgrade of /rpc/{secret}.
struct GatewayAttach {
    unsigned status = 101;  ///< 404 (unknown secret) or 410 (released): refuse with `body`.
    std::string body;       ///< The JSON-RPC error of a refusal.
    std::string fork_id;    ///< The fork the secret names ("" when none), for logs.
    std::unique_ptr<WsRelay> relay;  ///< Set with 101: the socket's hold on the fork.
};

/// How an rpcUrl's closing went.
struct GatewayClose {
    bool drained = true;   ///< No forwarded call is still in flight to the fork.
    bool tainted = false;  ///< A call changed a node setting evm_revert does not undo.
};

class RpcGateway {
  public:
    RpcGateway(forks::RpcClient& rpc, const forks::CuTable& cu, GatewayLimits limits = {});
    ~RpcGateway();
    RpcGateway(const RpcGateway&) = delete;
    RpcGateway& operator=(const RpcGateway&) = delete;

    /// The base of every rpcUrl (the server's public address); set before any run starts.
    void set_base_url(std::string base) { base_ = std::move(base); }

    /// How HTTP bodies reach the forks (the server's, on the thread that received each body);
    /// set before any run starts. Without one they go through `rpc`'s curl thread and back.
    void set_transport(ForkTransport* transport) { transport_ = transport; }

    /// Registers a ready fork; returns its public rpcUrl. `upstream` (the URL the fork forks,
    /// empty when none) is redacted from every answer.
    std::string open(std::shared_ptr<RunRecord> record,
                     std::string fork_id,
                     std::uint64_t chain_id,
                     std::string fork_url,
                     std::string upstream = {});
    /// From now on the rpcUrl answers 410 and its WebSockets close. Calls already forwarded may
    /// still land.
    void close(const std::string& rpc_url);
    /// Closes the rpcUrl, then waits up to `within` for every call already forwarded through it
    /// to be answered by the fork and for its WebSockets to close their connections to the fork,
    /// so that nothing lands after what comes next (a revert). Not drained when that took longer
    /// or a WebSocket had to cut calls still in flight.
    boost::asio::awaitable<GatewayClose> close_and_drain(const std::string& rpc_url,
                                                         std::chrono::milliseconds within);

    /// rpcUrls known (open or answering 410). Those of runs the store has dropped are forgotten
    /// as new ones open (they then answer 404, like the run itself).
    std::size_t size() const;

    /// The addresses whose balance a client set through the rpcUrl with a cheat code
    /// (anvil_setBalance, anvil_addBalance), for the simulation report.
    std::vector<std::string> balance_touched(const std::string& rpc_url) const;

    /// The forkId behind an rpcUrl secret, for logs that must not hold the secret.
    std::optional<std::string> fork_id_of(std::string_view secret) const;

    /// A WebSocket upgrade of /rpc/{secret}. With 101 the socket is counted on the rpcUrl until
    /// its relay is closed, and `on_release(within)` is called once (on the releasing thread)
    /// when the fork is released: the socket then forwards nothing more, gives the calls in
    /// flight up to `within` to be answered, and closes its connection to the fork.
    GatewayAttach attach(std::string_view secret,
                         std::function<void(std::chrono::milliseconds)> on_release);

    /// Forwards a JSON-RPC body sent to /rpc/{secret}; the transport's part runs on the
    /// caller's executor.
    boost::asio::awaitable<GatewayReply> forward(std::string_view secret, std::string body);

    GatewayCounts counts() const;

    /// The path prefix of every rpcUrl.
    static constexpr std::string_view kPathPrefix = "/rpc/";

  private:
    using Target = detail::GatewayTarget;
    std::shared_ptr<Target> lookup(std::string_view secret) const;
    // Marks the target released and calls its WebSockets' on_release once.
    static void release(Target& t, std::chrono::milliseconds within);
    // forward() once the secret is looked up (`t` null: it names no fork).
    boost::asio::awaitable<GatewayReply> forward_to(std::shared_ptr<Target> t, std::string body);

    forks::RpcClient& rpc_;
    ForkTransport* transport_ = nullptr;
    const forks::CuTable& cu_;
    GatewayLimits limits_;
    std::string base_;
    mutable std::shared_mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<Target>> targets_;
    std::size_t sweep_at_ = kMinSweep;  // forget dropped runs' targets when the map gets here
    static constexpr std::size_t kMinSweep = 1024;

    std::unique_ptr<detail::GatewayCounters> counters_;
};

/// A JSON-RPC 2.0 error body with a null id.
std::string jsonrpc_error_body(int code, std::string_view message);

/// The body of an error the server gives an rpcUrl's client before the gateway reads the
/// request: -32005 (EIP-1474, a limit of the server) for 413, -32600 for any other.
inline std::string jsonrpc_framing_error_body(unsigned http_status, std::string_view message) {
    return jsonrpc_error_body(
        http_status == 413 ? forks::kLimitExceededCode : forks::kInvalidRequestCode, message);
}

}  // namespace forkrun::controller
