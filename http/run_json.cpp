// Run -> JSON. Key order follows the contract's table so answers read like the documentation.
#include "http/run_json.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "util/timestamp.hpp"

namespace forkrun::http {

namespace json = boost::json;
using namespace forkrun::controller;

namespace {

// Every value of the tree is made in `sp`, the serializer's scratch arena: building a run's
// JSON makes a few hundred small values, and malloc for each was a tenth of a run's creation.
using Sp = const json::storage_ptr&;

json::value ts(const std::optional<Timestamp>& t, Sp sp) {
    return t ? json::value(util::format_timestamp(*t), sp) : json::value(sp);
}

json::value error_info(const std::optional<ErrorInfo>& e, Sp sp) {
    if (!e) {
        return json::value(sp);
    }
    return json::object({{"code", to_string(e->code)}, {"message", e->message}}, sp);
}

json::value opt_string(const std::optional<std::string>& s, Sp sp) {
    return s ? json::value(*s, sp) : json::value(sp);
}

json::object execution_state(const Run& r, Sp sp) {
    json::object nodes(sp);
    nodes.reserve(r.nodes.size());
    for (const auto& n : r.nodes) {
        json::object node(sp);
        node.reserve(6);
        node.emplace("status", to_string(n.status));
        node.emplace("startedAt", ts(n.started_at, sp));
        node.emplace("finishedAt", ts(n.finished_at, sp));
        node.emplace("cu", n.cu);
        node.emplace("output", n.output);
        node.emplace("error", error_info(n.error, sp));
        nodes.emplace(n.id, std::move(node));
    }
    json::object forks(sp);
    for (const auto& f : r.forks) {
        forks.emplace(
            f.fork_id,
            json::object(
                {{"chainId", f.chain_id},
                 {"state", to_string(f.state)},
                 {"cu", f.cu},
                 {"error", opt_string(f.error, sp)},
                 {"queuePosition",
                  f.queue_position ? json::value(*f.queue_position, sp) : json::value(sp)},
                 {"startAttempts",
                  f.start_attempts ? json::value(*f.start_attempts, sp) : json::value(sp)},
                 {"forkBlockNumber",
                  f.fork_block_number ? json::value(*f.fork_block_number, sp) : json::value(sp)},
                 {"keptUntil", ts(f.kept_until, sp)}},
                sp));
    }
    json::value error(sp);
    if (r.error) {
        error = json::object({{"code", to_string(r.error->code)},
                              {"message", r.error->message},
                              {"nodeId", opt_string(r.error->node_id, sp)}},
                             sp);
    }
    json::value cancellation(sp);
    if (r.cancellation) {
        cancellation = json::value_from(*r.cancellation, sp);
    }
    json::object state(sp);
    state.reserve(7);
    state.emplace("nodes", std::move(nodes));
    state.emplace("forks", std::move(forks));
    state.emplace("error", std::move(error));
    state.emplace("cancellation", std::move(cancellation));
    state.emplace("changes", json::value(r.changes, sp));
    state.emplace("changeTotals", json::value(r.change_totals, sp));
    state.emplace("inspectionCu", r.inspection_cu);
    return state;
}

json::object run_object(const Run& r, bool full, Sp sp) {
    json::array sim_forks(sp);
    for (const auto& f : r.forks) {
        if (!f.rpc_url.empty()) {
            sim_forks.push_back(json::object(
                {{"chainId", f.chain_id}, {"forkId", f.fork_id}, {"rpcUrl", f.rpc_url}}, sp));
        }
    }
    json::object o(sp);
    o.reserve(20);
    o.emplace("id", r.id);
    o.emplace("organizationId", r.organization_id);
    o.emplace("workflowId", r.workflow_id);
    o.emplace("workflowVersion", r.workflow_version);
    if (full) {
        o.emplace("workflowDefinition", r.workflow_definition);
    }
    o.emplace("propValues", r.prop_values);
    o.emplace("status", to_string(r.status));
    o.emplace("startedAt", util::format_timestamp(r.started_at));
    o.emplace("finishedAt", ts(r.finished_at, sp));
    o.emplace("isSimulation", r.is_simulation);
    o.emplace("isDustTest", r.is_dust_test);
    o.emplace("simulationMode",
              r.simulation_mode ? json::value(to_string(*r.simulation_mode), sp) : json::value(sp));
    o.emplace("simulationForks", std::move(sim_forks));
    json::object pins(sp);
    for (const auto& [chain, block] : r.fork_block_numbers) {
        pins.emplace(std::to_string(chain), block);
    }
    o.emplace("forkBlockNumbers", std::move(pins));
    o.emplace("keepForksOnFailure", r.keep_forks_on_failure);
    o.emplace("sourceRunId", opt_string(r.source_run_id, sp));
    o.emplace("totalCu", r.total_cu());
    o.emplace("triggerSource", r.trigger_source);
    o.emplace("triggeredBy", r.triggered_by);
    if (full) {
        o.emplace("executionState", execution_state(r, sp));
    }
    return o;
}

std::string serialize_run(const Run& run, bool full) {
    // Big enough for a small run's tree; a bigger one takes more blocks from the heap.
    alignas(16) unsigned char scratch[16384];
    json::monotonic_resource arena(scratch, sizeof scratch);
    const json::storage_ptr sp(&arena);
    return json::serialize(run_object(run, full, sp));
}

}  // namespace

std::string run_to_json(const Run& run) {
    return serialize_run(run, true);
}

std::string run_summary_to_json(const Run& run) {
    return serialize_run(run, false);
}

namespace {

constexpr std::size_t kNone = std::string_view::npos;

// The end of the string literal that starts at `i` (just past its closing quote), or kNone.
std::size_t skip_string(std::string_view s, std::size_t i) {
    for (++i; i < s.size();) {
        const auto q = s.find('"', i);  // memchr
        if (q == kNone) {
            return kNone;
        }
        // Escaped when an odd number of backslashes stands right before it.
        std::size_t slashes = 0;
        while (q - slashes > i && s[q - slashes - 1] == '\\') {
            ++slashes;
        }
        if (slashes % 2 == 0) {
            return q + 1;
        }
        i = q + 1;
    }
    return kNone;
}

// The end of the JSON value that starts at `i` in text with no whitespace (the serializer's):
// just past a string, object or array, or the delimiter after a scalar. kNone if unbalanced.
std::size_t skip_value(std::string_view s, std::size_t i) {
    int depth = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (c == '"') {
            i = skip_string(s, i);
            if (i == kNone || depth == 0) {
                return i;
            }
        } else if (c == '{' || c == '[') {
            ++depth;
            ++i;
        } else if (c == '}' || c == ']') {
            if (depth == 0) {
                return i;  // a scalar's end
            }
            ++i;
            if (--depth == 0) {
                return i;
            }
        } else if (c == ',' && depth == 0) {
            return i;
        } else {
            ++i;
        }
    }
    return depth == 0 ? i : kNone;
}

}  // namespace

std::optional<RunTextCut> cut_run_json(std::string_view full) {
    // The top-level members in order: the summary is the text without the workflowDefinition
    // member and without executionState, which is the last.
    if (full.size() < 2 || full.front() != '{' || full.back() != '}') {
        return std::nullopt;
    }
    std::size_t def_member = kNone, def_at = kNone, def_end = kNone;
    std::size_t props_at = kNone, props_end = kNone, state_member = kNone;
    std::size_t i = 1;
    while (i < full.size() && full[i] == '"') {
        const std::size_t member = i - 1;  // the '{' or ',' before the key
        const std::size_t key_end = skip_string(full, i);
        if (key_end == kNone || key_end >= full.size() || full[key_end] != ':') {
            return std::nullopt;
        }
        const std::string_view key = full.substr(i + 1, key_end - i - 2);
        const std::size_t value_at = key_end + 1;
        const std::size_t value_end = skip_value(full, value_at);
        if (value_end == kNone || value_end >= full.size()) {
            return std::nullopt;
        }
        if (key == "workflowDefinition") {
            def_member = member;
            def_at = value_at;
            def_end = value_end;
        } else if (key == "propValues") {
            props_at = value_at;
            props_end = value_end;
        } else if (key == "executionState") {
            state_member = member;
        }
        if (full[value_end] == '}') {
            if (value_end + 1 != full.size() || state_member != member) {
                return std::nullopt;  // executionState is not the last member
            }
            break;
        }
        if (full[value_end] != ',') {
            return std::nullopt;
        }
        i = value_end + 1;
    }
    if (def_member == kNone || def_member == 0 || props_at == kNone || state_member == kNone ||
        !(def_end <= state_member)) {
        return std::nullopt;
    }
    RunTextCut cut;
    cut.summary.reserve(state_member - (def_end - def_member) + 1);
    cut.summary.append(full.substr(0, def_member));
    cut.summary.append(full.substr(def_end, state_member - def_end));
    cut.summary.push_back('}');
    cut.request = {static_cast<std::uint32_t>(def_at), static_cast<std::uint32_t>(def_end - def_at),
                   static_cast<std::uint32_t>(props_at),
                   static_cast<std::uint32_t>(props_end - props_at)};
    return cut;
}

std::shared_ptr<const std::string> run_json(const RunRecord& rec, RunView view) {
    return rec.serialized(view, view == RunView::kFull ? run_to_json : run_summary_to_json);
}

std::string_view run_json_dictionary() {
    // What most finished runs look like: a few node types, nodes that succeeded, a released
    // fork. Deflate finds the repeats of keys and statuses here rather than in the run itself.
    static const std::string dictionary = [] {
        Run r;
        r.id = "run_AAAAAAAAAAAAAAAAAAAAAA";
        r.organization_id = "org_";
        r.workflow_id = "wf_";
        r.status = RunStatus::kSuccess;
        r.started_at = Clock::now();
        r.finished_at = r.started_at;
        r.is_simulation = true;
        r.simulation_mode = SimulationMode::kPool;
        r.triggered_by = "user";
        r.workflow_definition =
            json::parse(R"({"nodes":{"root":{"type":"manual","children":["a"]},)"
                        R"("w":{"type":"wait","props":{"seconds":1},"children":["r"]},)"
                        R"("r":{"type":"rpc","props":{"chainId":1,"method":"eth_blockNumber",)"
                        R"("params":[]},"children":["a"]},)"
                        R"("a":{"type":"assert","props":{"value":"1","equals":"1"}}},)"
                        R"("inputSchema":[]})")
                .as_object();
        for (const char* id : {"root", "w", "r", "a"}) {
            NodeState n;
            n.id = id;
            n.status = NodeStatus::kSuccess;
            n.started_at = r.started_at;
            n.finished_at = r.started_at;
            r.nodes.push_back(std::move(n));
        }
        ForkInfo f;
        f.fork_id = "fork_AAAAAAAAAAAAAAAAAAAAAA";
        f.chain_id = 1;
        f.state = ForkState::kReleased;
        r.forks.push_back(std::move(f));
        return run_to_json(r);
    }();
    return dictionary;
}

}  // namespace forkrun::http
