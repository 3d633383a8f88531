// Stored Run JSON back to the memory store's fields, and the controllerLost ending of a run.
#include "http/run_restore.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "util/timestamp.hpp"

namespace forkrun::http {

namespace json = boost::json;
using namespace forkrun::controller;

namespace {

// 2026-11-28T08:34:53.123Z, as format_timestamp writes it.
std::optional<Timestamp> parse_timestamp(std::string_view s) {
    if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[19] != '.' || s[23] != 'Z') {
        return std::nullopt;
    }
    auto num = [&](std::size_t at, std::size_t len, int& out) {
        const auto* b = s.data() + at;
        return std::from_chars(b, b + len, out).ptr == b + len;
    };
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
    if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
        !num(17, 2, sec) || !num(20, 3, ms)) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year(y),
                                          std::chrono::month(static_cast<unsigned>(mo)),
                                          std::chrono::day(static_cast<unsigned>(d))};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return Timestamp(std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(h) +
                     std::chrono::minutes(mi) + std::chrono::seconds(sec) +
                     std::chrono::milliseconds(ms));
}

std::string string_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool bool_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_bool() && v->get_bool();
}

}  // namespace

std::optional<RestoredRun> restore_run(const StoredRun& stored) {
    boost::system::error_code ec;
    auto doc = json::parse(stored.json, ec);
    const auto* o = ec ? nullptr : doc.if_object();
    if (!o) {
        return std::nullopt;
    }
    const auto status = parse_run_status(string_of(*o, "status"));
    const auto started = parse_timestamp(string_of(*o, "startedAt"));
    if (!status || !is_terminal(*status) || !started) {
        return std::nullopt;
    }
    RestoredRun r;
    Run& run = r.run;
    run.id = stored.id;
    run.organization_id = stored.organization_id;
    run.workflow_id = string_of(*o, "workflowId");
    if (const auto* v = o->if_contains("workflowVersion"); v && v->is_int64()) {
        run.workflow_version = v->get_int64();
    }
    run.status = *status;
    run.started_at = *started;
    run.finished_at = parse_timestamp(string_of(*o, "finishedAt"));
    run.is_simulation = bool_of(*o, "isSimulation");
    run.is_dust_test = bool_of(*o, "isDustTest");
    const auto mode = string_of(*o, "simulationMode");
    if (mode == "fork") {
        run.simulation_mode = SimulationMode::kFork;
    } else if (mode == "pool") {
        run.simulation_mode = SimulationMode::kPool;
    }
    if (const auto* v = o->if_contains("sourceRunId"); v && v->is_string()) {
        run.source_run_id = std::string(v->get_string());
    }
    run.trigger_source = string_of(*o, "triggerSource");
    run.triggered_by = string_of(*o, "triggeredBy");
    if (const auto* v = o->if_contains("workflowDefinition"); v && v->is_object()) {
        run.workflow_definition = v->get_object();  // for re-runs; dropped once placed in `full`
    }
    if (const auto* v = o->if_contains("propValues"); v && v->is_object()) {
        run.prop_values = v->get_object();
    }
    r.org_seq = stored.org_seq;
    r.full = stored.json;
    json::object summary;
    summary.reserve(o->size());
    for (const auto& [k, v] : *o) {
        if (k != "workflowDefinition" && k != "executionState") {
            summary.emplace(k, v);
        }
    }
    r.summary = json::serialize(summary);
    return r;
}

std::string lost_run_json(std::string_view text, Timestamp now) {
    boost::system::error_code ec;
    auto doc = json::parse(text, ec);
    auto* o = ec ? nullptr : doc.if_object();
    if (!o) {
        return std::string(text);
    }
    const std::string at = util::format_timestamp(now);
    const json::value lost_error = {
        {"code", to_string(RunErrc::kControllerLost)},
        {"message", "the controller running this run stopped before it finished"}};
    (*o)["status"] = "failure";
    (*o)["finishedAt"] = at;
    if (auto* state = o->if_contains("executionState"); state && state->is_object()) {
        auto& st = state->get_object();
        if (auto* nodes = st.if_contains("nodes"); nodes && nodes->is_object()) {
            for (auto& [id, n] : nodes->get_object()) {
                auto* node = n.if_object();
                const auto* s = node ? node->if_contains("status") : nullptr;
                if (!s || !s->is_string()) {
                    continue;
                }
                if (s->get_string() == "running" || s->get_string() == "waiting") {
                    (*node)["status"] = "failure";
                    (*node)["finishedAt"] = at;
                    (*node)["error"] = lost_error;
                } else if (s->get_string() == "pending") {
                    (*node)["status"] = "skipped";
                }
            }
        }
        if (auto* forks = st.if_contains("forks"); forks && forks->is_object()) {
            for (auto& [id, f] : forks->get_object()) {
                auto* fork = f.if_object();
                const auto* s = fork ? fork->if_contains("state") : nullptr;
                if (s && s->is_string() && s->get_string() != "released" &&
                    s->get_string() != "failed") {
                    (*fork)["state"] = "failed";
                    (*fork)["error"] = "the controller that held this fork stopped";
                }
            }
        }
        st["error"] = {{"code", to_string(RunErrc::kControllerLost)},
                       {"message",
                        "the controller running this run stopped before it finished; "
                        "its forks ended with it"},
                       {"nodeId", nullptr}};
    }
    return json::serialize(doc);
}

}  // namespace forkrun::http
