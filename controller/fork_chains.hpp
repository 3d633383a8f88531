// RunChains over the forks library: forks or leases for simulations, upstreams for live runs,
// every call metered into the run's record.
#pragma once

#include <memory>

#include "controller/rpc_gateway.hpp"
#include "controller/run_chains.hpp"
#include "forks/fork_manager.hpp"

namespace forkrun::controller {

class ForkChainProvider : public ChainProvider {
  public:
    ForkChainProvider(forks::ForkManager& forks, RpcGateway& gateway);
    std::unique_ptr<RunChains> open(std::shared_ptr<RunRecord> record,
                                    boost::asio::any_io_executor strand) override;

  private:
    forks::ForkManager& forks_;
    RpcGateway& gateway_;
};

}  // namespace forkrun::controller
