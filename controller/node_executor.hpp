// Runs one node of a workflow, by type, once its props have been resolved.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <cstddef>
#include <functional>

#include "controller/node_props.hpp"
#include "controller/node_types.hpp"
#include "controller/run.hpp"
#include "controller/run_chains.hpp"

namespace forkrun::controller {

struct TransferSettings;
class NonceAllocator;

/// What a node may use while it runs. Lives on the run's strand.
struct NodeEnv {
    std::size_t node_index = 0;
    bool is_simulation = false;
    bool is_dust_test = false;
    RunChains* chains = nullptr;  // null when the run has no chains
    const TransferSettings* transfers = nullptr;
    /// The run's nonces: its own book in a simulation, the controller's for live runs.
    NonceAllocator* nonces = nullptr;
    /// Marks the node `waiting` (a wait node); the run becomes `waiting` if every node in
    /// progress is waiting.
    std::function<void()> mark_waiting;
    /// What a node that fails still has to show (a reverted transaction's report): kept as its
    /// output.
    boost::json::value failed_output;
};

using NodeResult = boost::system::result<boost::json::value, ErrorInfo>;

/// Executes a node. Honours Asio cancellation: a cancelled chain call ends the node with
/// RunErrc::kCancelled, a cancelled timer with operation_aborted thrown out of its await; the
/// caller records either as `cancelled`.
boost::asio::awaitable<NodeResult> execute_node(NodeType type,
                                                const NodeProps& props,
                                                NodeEnv& env);

}  // namespace forkrun::controller
