// The seam between a run and the chains it touches: provisioning, metered calls, release.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/balance_changes.hpp"
#include "controller/quotas.hpp"
#include "controller/run.hpp"
#include "controller/run_record.hpp"

namespace forkrun::controller {

/// A run's chains. Every method is called from the run's strand, one run at a time.
class RunChains {
  public:
    virtual ~RunChains() = default;

    /// Brings up every chain of the run (forks or leases, in parallel), recording them in the
    /// run's record as they come up. Honours Asio cancellation. An error fails the run; whatever
    /// was already up stays recorded so that release() tears it down.
    virtual boost::asio::awaitable<std::optional<RunError>> provision() = 0;

    /// One JSON-RPC call on behalf of node `node_index`, metered into that node's share.
    virtual boost::asio::awaitable<boost::system::result<boost::json::value, ErrorInfo>> call(
        std::size_t node_index,
        std::uint64_t chain_id,
        std::string method,
        boost::json::array params) = 0;

    /// Tears down every fork of the run in parallel, each bounded by the teardown timeout.
    /// Never throws; a fork that could not be released is reported and handed to a reaper.
    /// With `collect_changes`, each fork's net balance effect is first recorded in the run's
    /// `changes` (the simulation report).
    virtual boost::asio::awaitable<std::vector<ForkTeardown>> release(bool collect_changes) = 0;

    /// Keeps every fork that is up, for the inspection of a failed run: each reads `kept` until
    /// `until` and its rpcUrl serves on (a call's CU goes to inspectionCu once the run is
    /// terminal); with `collect_changes` the report's changes are read first. release() ends
    /// it. False, keeping nothing, when no fork is up.
    virtual boost::asio::awaitable<bool> keep(bool collect_changes, Timestamp until) {
        (void)collect_changes, (void)until;
        co_return false;
    }

    /// The simulation report's bookkeeping (no-ops where there is none): a transaction a node
    /// sent and the balances it changed; a balance a setBalance node set.
    virtual void note_transaction(std::uint64_t chain_id,
                                  const std::string& tx_hash,
                                  ChainPosition at,
                                  const std::vector<BalanceChange>& changes) {
        (void)chain_id, (void)tx_hash, (void)at, (void)changes;
    }
    virtual void note_balance_set(std::uint64_t chain_id, ChainPosition at, BalanceChange change) {
        (void)chain_id, (void)at, (void)change;
    }
};

/// What a run holds from its creation until it is done, besides its quota ticket (e.g. the
/// pools of unconfigured chains); given back when destroyed.
class ChainHold {
  public:
    virtual ~ChainHold() = default;
};

/// Makes the RunChains of each run.
class ChainProvider {
  public:
    virtual ~ChainProvider() = default;
    /// Called from any thread when a run is created, before it starts: takes what the run
    /// will need that is in short supply, or says why it cannot have it. Holds nothing by
    /// default.
    virtual boost::system::result<std::unique_ptr<ChainHold>, QuotaRefusal> hold(const Run& run) {
        (void)run;
        return std::unique_ptr<ChainHold>();
    }
    virtual std::unique_ptr<RunChains> open(std::shared_ptr<RunRecord> record,
                                            boost::asio::any_io_executor strand) = 0;
};

}  // namespace forkrun::controller
