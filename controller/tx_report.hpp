// The simulation report of one transaction a node sent: its call trace, state diff, balance
// changes and revert reason, from the fork's tracers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "controller/node_executor.hpp"

namespace forkrun::controller {

/// The revert data a callTracer frame carries for a reverted call (`output` when `error` is
/// set), or nullopt when the frame did not revert or says nothing.
std::optional<std::vector<std::uint8_t>> revert_data(const boost::json::value& call_frame);

/// Adds `trace`, `stateDiff`, `balanceChanges` and, for a reverted receipt, `revertReason` to
/// `out`; the calls are metered to the node. A tracer that fails leaves `reportError` instead of
/// failing the node. The transaction's balance changes are noted in the run's chain changes.
/// Returns the decoded revert reason when the transaction reverted; a cancelled call ends the
/// report with RunErrc::kCancelled.
boost::asio::awaitable<boost::system::result<std::optional<boost::json::object>, ErrorInfo>>
report_transaction(NodeEnv& env,
                   std::uint64_t chain,
                   const std::string& tx_hash,
                   const boost::json::value& receipt,
                   boost::json::object& out);

}  // namespace forkrun::controller
