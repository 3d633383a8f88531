// Run -> JSON. Key order follows the contract's table so answers read like the documentation.
#include "http/run_json.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "controller/timestamp.hpp"

namespace forkrun::http {

namespace json = boost::json;
using namespace forkrun::controller;

namespace {

json::value ts(const std::optional<Timestamp>& t) {
    return t ? json::value(format_timestamp(*t)) : json::value();
}

json::value error_info(const std::optional<ErrorInfo>& e) {
    if (!e) {
        return nullptr;
    }
    return json::object{{"code", e->code}, {"message", e->message}};
}

json::value opt_string(const std::optional<std::string>& s) {
    return s ? json::value(*s) : json::value();
}

json::object execution_state(const Run& r) {
    json::object nodes;
    nodes.reserve(r.nodes.size());
    for (const auto& n : r.nodes) {
        nodes.emplace(n.id, json::object{{"status", to_string(n.status)},
                                         {"startedAt", ts(n.started_at)},
                                         {"finishedAt", ts(n.finished_at)},
                                         {"cu", n.cu},
                                         {"output", n.output},
                                         {"error", error_info(n.error)}});
    }
    json::object forks;
    for (const auto& f : r.forks) {
        forks.emplace(f.fork_id, json::object{{"chainId", f.chain_id},
                                              {"state", to_string(f.state)},
                                              {"cu", f.cu},
                                              {"error", opt_string(f.error)}});
    }
    json::value error;
    if (r.error) {
        error = json::object{{"code", r.error->code},
                             {"message", r.error->message},
                             {"nodeId", opt_string(r.error->node_id)}};
    }
    json::value cancellation;
    if (r.cancellation) {
        const auto& c = *r.cancellation;
        json::array teardowns;
        for (const auto& t : c.forks) {
            teardowns.push_back(json::object{{"forkId", t.fork_id},
                                             {"chainId", t.chain_id},
                                             {"ok", t.ok},
                                             {"method", t.method},
                                             {"ms", t.ms},
                                             {"error", opt_string(t.error)}});
        }
        cancellation = json::object{{"requestedBy", c.requested_by},
                                    {"requestedAt", format_timestamp(c.requested_at)},
                                    {"reason", opt_string(c.reason)},
                                    {"completedAt", ts(c.completed_at)},
                                    {"forks", std::move(teardowns)}};
    }
    return json::object{{"nodes", std::move(nodes)},
                        {"forks", std::move(forks)},
                        {"error", std::move(error)},
                        {"cancellation", std::move(cancellation)}};
}

json::object run_object(const Run& r, bool full) {
    json::array sim_forks;
    for (const auto& f : r.forks) {
        if (!f.rpc_url.empty()) {
            sim_forks.push_back(json::object{
                {"chainId", f.chain_id}, {"forkId", f.fork_id}, {"rpcUrl", f.rpc_url}});
        }
    }
    json::object o;
    o.reserve(18);
    o.emplace("id", r.id);
    o.emplace("organizationId", r.organization_id);
    o.emplace("workflowId", r.workflow_id);
    o.emplace("workflowVersion", r.workflow_version);
    if (full) {
        o.emplace("workflowDefinition", r.workflow_definition);
    }
    o.emplace("propValues", r.prop_values);
    o.emplace("status", to_string(r.status));
    o.emplace("startedAt", format_timestamp(r.started_at));
    o.emplace("finishedAt", ts(r.finished_at));
    o.emplace("isSimulation", r.is_simulation);
    o.emplace("isDustTest", r.is_dust_test);
    o.emplace("simulationMode",
              r.simulation_mode ? json::value(to_string(*r.simulation_mode)) : json::value());
    o.emplace("simulationForks", std::move(sim_forks));
    o.emplace("sourceRunId", opt_string(r.source_run_id));
    o.emplace("totalCu", r.total_cu());
    o.emplace("triggerSource", r.trigger_source);
    o.emplace("triggeredBy", r.triggered_by);
    if (full) {
        o.emplace("executionState", execution_state(r));
    }
    return o;
}

}  // namespace

std::string run_to_json(const Run& run) {
    return json::serialize(run_object(run, true));
}

std::string run_summary_to_json(const Run& run) {
    return json::serialize(run_object(run, false));
}

std::shared_ptr<const std::string> run_json(const RunRecord& rec, RunView view) {
    return rec.serialized(view, view == RunView::kFull ? run_to_json : run_summary_to_json);
}

}  // namespace forkrun::http
