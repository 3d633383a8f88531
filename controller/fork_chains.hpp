// RunChains over the forks library: forks or leases for simulations, upstreams for live runs,
// every call metered into the run's record.
#pragma once

#include <memory>

#include "controller/limits.hpp"
#include "controller/metrics.hpp"
#include "controller/rpc_gateway.hpp"
#include "controller/run_chains.hpp"
#include "forks/fork_manager.hpp"

namespace forkrun::controller {

class ForkChainProvider : public ChainProvider {
  public:
    /// A node's JSON-RPC reply larger than `max_output_bytes` fails it with `tooLarge`.
    ForkChainProvider(forks::ForkManager& forks,
                      RpcGateway& gateway,
                      std::size_t max_output_bytes = SizeLimits{}.node_output_bytes);
    /// Where fork provisioning times and live forks are counted; null: nowhere.
    void set_metrics(ControllerMetrics* metrics);
    /// Whether forks keep what the simulation report needs (their start block); set before
    /// any run starts.
    void set_simulation_report(bool on) { report_ = on; }
    std::unique_ptr<RunChains> open(std::shared_ptr<RunRecord> record,
                                    boost::asio::any_io_executor strand) override;
    /// A `pool` run holds the pools of its unconfigured chains (ForkManager::hold_pools).
    boost::system::result<std::unique_ptr<ChainHold>, QuotaRefusal> hold(const Run& run) override;

  private:
    forks::ForkManager& forks_;
    RpcGateway& gateway_;
    std::size_t max_output_bytes_;
    ControllerMetrics* metrics_ = nullptr;
    bool report_ = true;
};

}  // namespace forkrun::controller
