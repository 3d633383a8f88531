// The Run object of the contract, as the controller keeps it in memory.
#pragma once

#include <boost/json/conversion.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/run_error.hpp"
#include "forks/teardown_method.hpp"
#include "util/timestamp.hpp"

namespace forkrun::util {
class JsonWriter;
}

namespace forkrun::controller {

using Clock = util::Clock;
using Timestamp = util::Timestamp;

enum class RunStatus { kWaiting, kRunning, kSuccess, kFailure, kCancelled };
enum class NodeStatus { kPending, kRunning, kWaiting, kSuccess, kFailure, kCancelled, kSkipped };
/// kKept: a failed run's fork left up for inspection (Run::keep_forks_on_failure).
enum class ForkState { kProvisioning, kReady, kReleased, kFailed, kKept };
enum class SimulationMode { kFork, kPool };

std::string_view to_string(RunStatus s);
std::string_view to_string(NodeStatus s);
std::string_view to_string(ForkState s);
std::string_view to_string(SimulationMode m);
std::optional<RunStatus> parse_run_status(std::string_view s);

/// True for success, failure and cancelled: a run in such a status never changes again.
constexpr bool is_terminal(RunStatus s) {
    return s == RunStatus::kSuccess || s == RunStatus::kFailure || s == RunStatus::kCancelled;
}

/// A machine-readable code with a human sentence.
struct ErrorInfo {
    RunErrc code = RunErrc::kInternalError;
    std::string message;
};

/// `"key":{"code":...,"message":...}` of a node's error, or `"key":null` (the Run object's
/// node states and the `node` event write it alike).
void write_error_info(util::JsonWriter& w, std::string_view key, const std::optional<ErrorInfo>& e);

struct NodeState {
    std::string id;
    NodeStatus status = NodeStatus::kPending;
    std::optional<Timestamp> started_at;
    std::optional<Timestamp> finished_at;
    std::uint64_t cu = 0;
    boost::json::value output;  // null until the node succeeds
    std::optional<ErrorInfo> error;
};

struct ForkInfo {
    std::string fork_id;
    std::uint64_t chain_id = 0;
    std::string rpc_url;  // empty until the fork is ready
    ForkState state = ForkState::kProvisioning;
    std::uint64_t cu = 0;
    std::optional<std::string> error;
    /// Anvils started for this fork (a second after one that never became ready); null for a
    /// pool lease, whose forks the pool starts.
    std::optional<std::uint32_t> start_attempts;
    /// While a pool lease is awaited, the place among the pool's waiters (1 first); else null.
    std::optional<std::uint32_t> queue_position;
    /// The block the fork was made at when the run pinned one (forkBlockNumbers); else null.
    std::optional<std::uint64_t> fork_block_number;
    /// While the fork is kept after a failure: when it is torn down at the latest.
    std::optional<Timestamp> kept_until;
};

struct RunError {
    RunErrc code = RunErrc::kInternalError;
    std::string message;
    std::optional<std::string> node_id;
};

/// How one fork was torn down by a cancel.
struct ForkTeardown {
    std::string fork_id;
    std::uint64_t chain_id = 0;
    bool ok = false;
    forks::TeardownMethod method = forks::TeardownMethod::kSigterm;
    double ms = 0;
    std::optional<std::string> error;
};

struct Cancellation {
    std::string requested_by;
    Timestamp requested_at;
    std::optional<std::string> reason;
    std::optional<Timestamp> completed_at;
    std::vector<ForkTeardown> forks;
};

/// The contract's cancellation object (`executionState.cancellation`, the `cancellation` event),
/// made in `jv`'s storage.
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& jv, const Cancellation& c);

struct Run {
    std::string id;
    std::string organization_id;
    std::string workflow_id;
    std::int64_t workflow_version = 1;
    boost::json::object workflow_definition;
    boost::json::object prop_values;
    RunStatus status = RunStatus::kWaiting;
    Timestamp started_at;
    std::optional<Timestamp> finished_at;
    bool is_simulation = false;
    bool is_dust_test = false;
    std::optional<SimulationMode> simulation_mode;
    std::vector<std::uint64_t> chains;
    std::optional<std::string> source_run_id;
    std::string trigger_source = "api";
    std::string triggered_by;
    /// forkBlockNumbers: the block each pinned chain is forked at.
    std::map<std::uint64_t, std::uint64_t> fork_block_numbers;
    /// keepForksOnFailure: seconds a failed simulation's forks stay up (0: not kept).
    std::uint32_t keep_forks_on_failure = 0;

    // executionState
    std::vector<NodeState> nodes;  // in the graph's order, root first
    std::vector<ForkInfo> forks;
    std::optional<RunError> error;
    std::optional<Cancellation> cancellation;
    /// The simulation report's net balance effect per chain ({"<chainId>": {"<address>":
    /// {beforeWei, afterWei, deltaWei}}}) and its totals per chain; filled as forks are released.
    boost::json::object changes;
    boost::json::object change_totals;
    /// CU of the calls made through kept forks after the run ended (never part of totalCu).
    std::uint64_t inspection_cu = 0;

    /// Set once the run has been `running` (it may be `waiting` again since, on a wait node):
    /// what `waitUntil=running` waits for. Not part of the wire object.
    bool has_run = false;

    /// The sum of every node's and every fork's share: totalCu is derived, never stored apart.
    std::uint64_t total_cu() const;
    ForkInfo* find_fork(std::string_view fork_id);
    /// A fork kept for inspection: the run, ended or not, changes again when it is released.
    bool keeps_forks() const;
};

}  // namespace forkrun::controller
