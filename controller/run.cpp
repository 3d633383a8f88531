// Names of the Run object's enumerations and its derived totals.
#include "controller/run.hpp"

#include <algorithm>

#include <boost/json/value_from.hpp>

#include "util/json_writer.hpp"

namespace forkrun::controller {

std::string_view to_string(RunStatus s) {
    switch (s) {
        case RunStatus::kWaiting:
            return "waiting";
        case RunStatus::kRunning:
            return "running";
        case RunStatus::kSuccess:
            return "success";
        case RunStatus::kFailure:
            return "failure";
        case RunStatus::kCancelled:
            return "cancelled";
    }
    return "unknown";
}

std::string_view to_string(NodeStatus s) {
    switch (s) {
        case NodeStatus::kPending:
            return "pending";
        case NodeStatus::kRunning:
            return "running";
        case NodeStatus::kWaiting:
            return "waiting";
        case NodeStatus::kSuccess:
            return "success";
        case NodeStatus::kFailure:
            return "failure";
        case NodeStatus::kCancelled:
            return "cancelled";
        case NodeStatus::kSkipped:
            return "skipped";
    }
    return "unknown";
}

std::string_view to_string(ForkState s) {
    switch (s) {
        case ForkState::kProvisioning:
            return "provisioning";
        case ForkState::kReady:
            return "ready";
        case ForkState::kReleased:
            return "released";
        case ForkState::kFailed:
            return "failed";
        case ForkState::kKept:
            return "kept";
    }
    return "unknown";
}

std::string_view to_string(SimulationMode m) {
    return m == SimulationMode::kFork ? "fork" : "pool";
}

std::optional<RunStatus> parse_run_status(std::string_view s) {
    for (auto st : {RunStatus::kWaiting, RunStatus::kRunning, RunStatus::kSuccess,
                    RunStatus::kFailure, RunStatus::kCancelled}) {
        if (to_string(st) == s) {
            return st;
        }
    }
    return std::nullopt;
}

std::uint64_t Run::total_cu() const {
    std::uint64_t sum = 0;
    for (const auto& n : nodes) {
        sum += n.cu;
    }
    for (const auto& f : forks) {
        sum += f.cu;
    }
    return sum;
}

bool Run::keeps_forks() const {
    return std::any_of(forks.begin(), forks.end(),
                       [](const ForkInfo& f) { return f.state == ForkState::kKept; });
}

ForkInfo* Run::find_fork(std::string_view fork_id) {
    for (auto& f : forks) {
        if (f.fork_id == fork_id) {
            return &f;
        }
    }
    return nullptr;
}

void write_error_info(util::JsonWriter& w,
                      std::string_view key,
                      const std::optional<ErrorInfo>& e) {
    if (!e) {
        w.null(key);
        return;
    }
    w.open('{', key).str("code", to_string(e->code)).str("message", e->message).close('}');
}

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& jv, const Cancellation& c) {
    namespace json = boost::json;
    const json::storage_ptr& sp = jv.storage();
    auto opt_string = [&](const std::optional<std::string>& s) {
        return s ? json::value(*s, sp) : json::value(sp);
    };
    json::array teardowns(sp);
    for (const auto& t : c.forks) {
        teardowns.push_back(json::object({{"forkId", t.fork_id},
                                          {"chainId", t.chain_id},
                                          {"ok", t.ok},
                                          {"method", forks::to_string(t.method)},
                                          {"ms", t.ms},
                                          {"error", opt_string(t.error)}},
                                         sp));
    }
    jv = json::object(
        {{"requestedBy", c.requested_by},
         {"requestedAt", util::format_timestamp(c.requested_at)},
         {"reason", opt_string(c.reason)},
         {"completedAt", c.completed_at ? json::value(util::format_timestamp(*c.completed_at), sp)
                                        : json::value(sp)},
         {"forks", std::move(teardowns)}},
        sp);
}

}  // namespace forkrun::controller
