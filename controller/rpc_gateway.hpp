// The rpcUrl gateway: an unguessable secret per fork, forwarding JSON-RPC to the fork and
// metering each call into the run, and refusing service once the fork is released.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "controller/run_record.hpp"
#include "forks/cu_table.hpp"
#include "forks/rpc_client.hpp"

namespace forkrun::controller {

struct GatewayReply {
    unsigned status = 200;
    std::string body;  // JSON-RPC, as the fork answered or as the gateway refuses
};

class RpcGateway {
  public:
    RpcGateway(forks::RpcClient& rpc, const forks::CuTable& cu);

    /// The base of every rpcUrl (the server's public address); set before any run starts.
    void set_base_url(std::string base) { base_ = std::move(base); }

    /// Registers a ready fork; returns its public rpcUrl.
    std::string open(std::shared_ptr<RunRecord> record,
                     std::string fork_id,
                     std::uint64_t chain_id,
                     std::string fork_url);
    /// From now on the rpcUrl answers 410.
    void close(const std::string& rpc_url);

    /// rpcUrls known (open or answering 410). Those of runs the store has dropped are forgotten
    /// as new ones open (they then answer 404, like the run itself).
    std::size_t size() const;

    /// Forwards a JSON-RPC body sent to /rpc/{secret}.
    boost::asio::awaitable<GatewayReply> forward(std::string_view secret, std::string body);

    /// The path prefix of every rpcUrl.
    static constexpr std::string_view kPathPrefix = "/rpc/";

  private:
    struct Target {
        std::weak_ptr<RunRecord> record;
        std::string fork_id;
        std::string label;
        std::string fork_url;
        std::atomic<bool> released{false};
    };
    std::shared_ptr<Target> lookup(std::string_view secret) const;

    forks::RpcClient& rpc_;
    const forks::CuTable& cu_;
    std::string base_;
    mutable std::shared_mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<Target>> targets_;
    std::size_t sweep_at_ = kMinSweep;  // forget dropped runs' targets when the map gets here
    static constexpr std::size_t kMinSweep = 1024;
};

/// A JSON-RPC 2.0 error body with a null id.
std::string jsonrpc_error_body(int code, std::string_view message);

}  // namespace forkrun::controller
