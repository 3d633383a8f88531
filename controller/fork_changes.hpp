// executionState.changes of one fork: its blocks walked before release, the transactions no node
// reported traced, and the net balance effect computed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include <memory>
#include "controller/balance_changes.hpp"

#include "controller/run.hpp"
#include "controller/run_record.hpp"
#include "forks/fork_manager.hpp"

namespace forkrun::controller {

/// One JSON-RPC call to the fork, metered to it.
using ForkCall =
    std::function<boost::asio::awaitable<boost::system::result<boost::json::value, ErrorInfo>>(
        std::string method,
        boost::json::array params)>;

struct ChainReport {
    boost::json::object accounts;  ///< {"<address>": {"beforeWei", "afterWei", "deltaWei"}}
    boost::json::object totals;    ///< {"deltaWei", "burnedWei", "mintedWei", "transactions", ...}
};

/// Blocks a fork's walk covers at most; past them the totals say `complete: false`.
inline constexpr std::uint64_t kMaxChangeBlocks = 30000;

/// Lists the transactions of blocks (start_block, head] (trace_filter, 300 blocks a call), traces
/// those `changes` does not know yet (prestateTracer diff), reads the balances of addresses that
/// cheat codes touched, and answers the net effect.
boost::asio::awaitable<ChainReport> collect_chain_changes(ForkCall call,
                                                          std::uint64_t start_block,
                                                          ChainChanges& changes);

/// A ForkCall to the fork at `url`, each call's CU added to fork `fork_id` of `record`.
ForkCall metered_fork_call(forks::ForkManager& forks,
                           std::shared_ptr<RunRecord> record,
                           std::string fork_id,
                           std::string url,
                           std::uint64_t chain_id,
                           std::size_t max_reply_bytes);

/// collect_chain_changes(), its answer put in the run's `changes` and `changeTotals` under the
/// chain's id.
boost::asio::awaitable<void> record_chain_changes(ForkCall call,
                                                  std::uint64_t chain_id,
                                                  std::uint64_t start_block,
                                                  ChainChanges& changes,
                                                  RunRecord& record);

}  // namespace forkrun::controller
