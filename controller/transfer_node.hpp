// transfer and sendTransaction: a signed EIP-1559 transaction, sent and awaited to its receipt.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "controller/node_executor.hpp"
#include "controller/node_props.hpp"
#include "controller/signers.hpp"
#include "forks/eth/uint256.hpp"

namespace forkrun::controller {

/// Settings of value-moving nodes, from the configuration.
struct TransferSettings {
    const Signers* signers = nullptr;
    eth::Uint256 dust_wei{1000};
    eth::Uint256 max_tip_wei{1'000'000'000};  // 1 gwei
    std::chrono::milliseconds receipt_timeout{120000};
    /// A transaction with no receipt this long after it was sent, whose nonce is the chain's next
    /// one, is sent again with the same nonce and fees raised by a quarter (at most
    /// kMaxReplacements times); config `replaceUnminedAfterMs`, 0 never. On a fork, which mines
    /// at once, `replace_after_on_fork`.
    std::chrono::milliseconds replace_after{30000};
    std::chrono::milliseconds replace_after_on_fork{1000};
    static constexpr int kMaxReplacements = 3;
    /// The simulation report (trace, state diff, balance changes, revert reason of each
    /// transaction; executionState.changes); config `simulationReport`.
    bool simulation_report = true;
};

/// Runs a transfer (`data` absent) or a sendTransaction node.
boost::asio::awaitable<NodeResult> run_transaction(const TransactionProps& props, NodeEnv& env);

}  // namespace forkrun::controller
