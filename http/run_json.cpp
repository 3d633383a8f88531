// Run -> JSON. Key order follows the contract's table so answers read like the documentation.
#include "http/run_json.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "util/json_writer.hpp"
#include "util/timestamp.hpp"

namespace forkrun::http {

namespace json = boost::json;
using namespace forkrun::controller;

namespace {

using util::JsonWriter;

void execution_state(JsonWriter& w, const Run& r) {
    w.open('{', "executionState").open('{', "nodes");
    for (const auto& n : r.nodes) {
        w.open_escaped('{', n.id);
        w.str("status", to_string(n.status));
        w.opt_time("startedAt", n.started_at).opt_time("finishedAt", n.finished_at);
        w.num("cu", n.cu).value("output", n.output);
        write_error_info(w, "error", n.error);
        w.close('}');
    }
    w.close('}').open('{', "forks");
    for (const auto& f : r.forks) {
        w.open_escaped('{', f.fork_id);
        w.num("chainId", f.chain_id).str("state", to_string(f.state)).num("cu", f.cu);
        w.opt_str("error", f.error);
        w.opt_num("queuePosition", f.queue_position).opt_num("startAttempts", f.start_attempts);
        w.opt_num("forkBlockNumber", f.fork_block_number).opt_time("keptUntil", f.kept_until);
        w.close('}');
    }
    w.close('}');
    if (r.error) {
        w.open('{', "error").str("code", to_string(r.error->code));
        w.str("message", r.error->message).opt_str("nodeId", r.error->node_id).close('}');
    } else {
        w.null("error");
    }
    if (r.cancellation) {
        w.value("cancellation", json::value_from(*r.cancellation));  // rare: the tree is fine
    } else {
        w.null("cancellation");
    }
    w.value("changes", r.changes).value("changeTotals", r.change_totals);
    w.num("inspectionCu", r.inspection_cu).close('}');
}

// The run's members in the contract's order, as text (no value tree: this is made for every
// create's answer and every finished run).
std::string serialize_run(const Run& r, bool full) {
    JsonWriter w(full ? 1024 : 512);
    w.open('{');
    w.str("id", r.id).str("organizationId", r.organization_id).str("workflowId", r.workflow_id);
    w.num("workflowVersion", r.workflow_version);
    if (full) {
        w.value("workflowDefinition", r.workflow_definition);
    }
    w.value("propValues", r.prop_values).str("status", to_string(r.status));
    w.str("startedAt", util::format_timestamp(r.started_at));
    w.opt_time("finishedAt", r.finished_at);
    w.boolean("isSimulation", r.is_simulation).boolean("isDustTest", r.is_dust_test);
    if (r.simulation_mode) {
        w.str("simulationMode", to_string(*r.simulation_mode));
    } else {
        w.null("simulationMode");
    }
    w.open('[', "simulationForks");
    for (const auto& f : r.forks) {
        if (!f.rpc_url.empty()) {
            w.open('{').num("chainId", f.chain_id).str("forkId", f.fork_id);
            w.str("rpcUrl", f.rpc_url).close('}');
        }
    }
    w.close(']').open('{', "forkBlockNumbers");
    for (const auto& [chain, block] : r.fork_block_numbers) {
        w.num(std::to_string(chain), block);
    }
    w.close('}');
    w.num("keepForksOnFailure", static_cast<std::uint64_t>(r.keep_forks_on_failure));
    w.opt_str("sourceRunId", r.source_run_id).num("totalCu", r.total_cu());
    w.str("triggerSource", r.trigger_source).str("triggeredBy", r.triggered_by);
    if (full) {
        execution_state(w, r);
    }
    w.close('}');
    return std::move(w).take();
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
        auto node = [&](const char* id, NodeStatus status) {
            NodeState n;
            n.id = id;
            n.status = status;
            n.started_at = r.started_at;
            n.finished_at = r.started_at;
            return n;
        };
        for (const char* id : {"root", "w", "r", "a"}) {
            r.nodes.push_back(node(id, NodeStatus::kSuccess));
        }
        ForkInfo f;
        f.fork_id = "fork_AAAAAAAAAAAAAAAAAAAAAA";
        f.chain_id = 1;
        f.state = ForkState::kReleased;
        r.forks.push_back(std::move(f));
        // And a cancelled run of a waiting node, with its cancellation record: the other common
        // end (create-then-cancel, a dashboard's stop button).
        Run c;
        c.id = r.id;
        c.organization_id = r.organization_id;
        c.workflow_id = r.workflow_id;
        c.status = RunStatus::kCancelled;
        c.started_at = r.started_at;
        c.finished_at = r.started_at;
        c.workflow_definition =
            json::parse(R"({"nodes":{"root":{"type":"manual","children":["hold"]},)"
                        R"("hold":{"type":"wait","props":{"seconds":3600}}}})")
                .as_object();
        c.nodes = {node("root", NodeStatus::kSuccess), node("hold", NodeStatus::kCancelled)};
        c.cancellation = Cancellation{"user", r.started_at, std::nullopt, r.started_at, {}};
        return run_to_json(c) + run_to_json(r);  // the commoner last: nearer, cheaper to point at
    }();
    return dictionary;
}

}  // namespace forkrun::http
