// The rpcUrl gateway: an unguessable secret per fork; each JSON-RPC body is parsed once, every
// call in it policed by the method policy and metered into the run, and only what was parsed is
// written on to the fork. Once the fork is released the rpcUrl refuses service.
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

#include "controller/run_record.hpp"
#include "forks/cu_table.hpp"
#include "forks/jsonrpc_request.hpp"
#include "forks/rpc_client.hpp"

namespace forkrun::controller {

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
    std::uint64_t forwarded = 0;  ///< Calls sent on to a fork.
    std::uint64_t refused = 0;    ///< Calls the method policy refused.
    std::uint64_t invalid = 0;    ///< Bodies or calls that are not valid JSON-RPC.
    std::uint64_t not_found = 0;  ///< Bodies sent to an unknown rpcUrl.
    std::uint64_t gone = 0;       ///< Bodies sent to a released fork.
    std::uint64_t failed = 0;     ///< Calls whose fork could not be reached.
};

/// How an rpcUrl's closing went.
struct GatewayClose {
    bool drained = true;   ///< No forwarded call is still in flight to the fork.
    bool tainted = false;  ///< A call changed a node setting evm_revert does not undo.
};

class RpcGateway {
  public:
    RpcGateway(forks::RpcClient& rpc, const forks::CuTable& cu, GatewayLimits limits = {});

    /// The base of every rpcUrl (the server's public address); set before any run starts.
    void set_base_url(std::string base) { base_ = std::move(base); }

    /// Registers a ready fork; returns its public rpcUrl. `upstream` (the URL the fork forks,
    /// empty when none) is redacted from every answer.
    std::string open(std::shared_ptr<RunRecord> record,
                     std::string fork_id,
                     std::uint64_t chain_id,
                     std::string fork_url,
                     std::string upstream = {});
    /// From now on the rpcUrl answers 410. Calls already forwarded may still land.
    void close(const std::string& rpc_url);
    /// Closes the rpcUrl, then waits up to `within` for every call already forwarded through it
    /// to be answered by the fork, so that none lands after what comes next (a revert).
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

    /// Forwards a JSON-RPC body sent to /rpc/{secret}.
    boost::asio::awaitable<GatewayReply> forward(std::string_view secret, std::string body);

    GatewayCounts counts() const;

    /// The path prefix of every rpcUrl.
    static constexpr std::string_view kPathPrefix = "/rpc/";

  private:
    struct Target {
        std::weak_ptr<RunRecord> record;
        std::string fork_id;
        std::string label;
        std::string fork_url;
        std::string upstream;
        std::atomic<bool> tainted{false};
        std::mutex mu;  // guards the four below
        bool released = false;
        std::vector<std::string> balance_touched;
        std::size_t in_flight = 0;
        std::vector<std::function<void()>> on_drained;
    };
    class InFlight;
    std::shared_ptr<Target> lookup(std::string_view secret) const;
    // forward() once the secret is looked up (`t` null: it names no fork).
    boost::asio::awaitable<GatewayReply> forward_to(std::shared_ptr<Target> t, std::string body);

    forks::RpcClient& rpc_;
    const forks::CuTable& cu_;
    GatewayLimits limits_;
    std::string base_;
    mutable std::shared_mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<Target>> targets_;
    std::size_t sweep_at_ = kMinSweep;  // forget dropped runs' targets when the map gets here
    static constexpr std::size_t kMinSweep = 1024;

    struct Counters {
        std::atomic<std::uint64_t> forwarded{0}, refused{0}, invalid{0}, not_found{0}, gone{0},
            failed{0};
    };
    Counters counters_;
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
