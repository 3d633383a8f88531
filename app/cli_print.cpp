// Readable text of runs and events for the client commands (--json prints the API's JSON).
#include "app/cli_print.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <iomanip>
#include <sstream>

namespace forkrun::app {

namespace json = boost::json;

namespace {

std::string text(const json::object& o, std::string_view key, std::string_view none = "-") {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) {
        return std::string(none);
    }
    return v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
}

const json::object* object_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_object() ? &v->get_object() : nullptr;
}

std::string error_text(const json::object& holder) {
    const auto* e = object_at(holder, "error");
    if (!e) {
        return {};
    }
    return text(*e, "code", "") + ": " + text(*e, "message", "");
}

}  // namespace

void print_run(std::ostream& out, const json::object& run) {
    out << "run " << text(run, "id") << "  " << text(run, "status") << "\n";
    out << "  workflow  " << text(run, "workflowId") << " v" << text(run, "workflowVersion");
    const auto* sim = run.if_contains("isSimulation");
    if (sim && sim->is_bool() && sim->get_bool()) {
        out << "  simulation (" << text(run, "simulationMode") << ")";
    } else {
        out << "  live";
    }
    const auto* dust = run.if_contains("isDustTest");
    if (dust && dust->is_bool() && dust->get_bool()) {
        out << "  dust test";
    }
    out << "\n  started   " << text(run, "startedAt") << "  finished " << text(run, "finishedAt")
        << "\n  totalCu   " << text(run, "totalCu") << "\n";
    const auto* es = object_at(run, "executionState");
    const auto* nodes = es ? object_at(*es, "nodes") : nullptr;
    if (nodes && !nodes->empty()) {
        std::size_t width = 4;
        for (const auto& [id, n] : *nodes) {
            width = std::max(width, id.size());
        }
        out << "  nodes\n";
        for (const auto& [id, n] : *nodes) {
            if (!n.is_object()) {
                continue;
            }
            const auto& node = n.get_object();
            out << "    " << std::left << std::setw(static_cast<int>(width)) << std::string(id)
                << "  " << std::setw(9) << text(node, "status") << std::right << std::setw(8)
                << text(node, "cu") << " CU";
            if (auto e = error_text(node); !e.empty()) {
                out << "  " << e;
            }
            out << "\n";
        }
    }
    if (const auto* e = es ? object_at(*es, "error") : nullptr) {
        out << "  error     " << text(*e, "code") << ": " << text(*e, "message");
        if (const auto* at = e->if_contains("nodeId"); at && at->is_string()) {
            out << " (node " << std::string(at->get_string()) << ")";
        }
        out << "\n";
    }
    if (const auto* c = es ? object_at(*es, "cancellation") : nullptr) {
        out << "  cancelled by " << text(*c, "requestedBy") << " at " << text(*c, "requestedAt");
        if (const auto* r = c->if_contains("reason"); r && r->is_string()) {
            out << ": " << std::string(r->get_string());
        }
        out << "\n";
    }
}

void print_runs(std::ostream& out, const json::object& page) {
    const auto* runs = page.if_contains("runs");
    if (!runs || !runs->is_array() || runs->get_array().empty()) {
        out << "no runs\n";
        return;
    }
    out << std::left << std::setw(28) << "ID" << std::setw(11) << "STATUS" << std::setw(26)
        << "STARTED" << std::setw(10) << "CU"
        << "WORKFLOW\n";
    for (const auto& v : runs->get_array()) {
        if (!v.is_object()) {
            continue;
        }
        const auto& r = v.get_object();
        out << std::setw(28) << text(r, "id") << std::setw(11) << text(r, "status") << std::setw(26)
            << text(r, "startedAt") << std::setw(10) << text(r, "totalCu") << text(r, "workflowId")
            << " v" << text(r, "workflowVersion") << "\n";
    }
    out << std::right;
    if (const auto* next = page.if_contains("nextCursor"); next && next->is_string()) {
        out << "(more: --cursor " << std::string(next->get_string()) << ")\n";
    }
}

std::string event_line(const SseEvent& e) {
    std::ostringstream out;
    out << "[" << e.id << "] " << e.event;
    boost::system::error_code ec;
    const json::value v = json::parse(e.data, ec);
    if (ec || !v.is_object()) {
        out << " " << e.data;
        return out.str();
    }
    const auto& d = v.get_object();
    if (e.event == "run") {
        out << " " << text(d, "status");
        if (const auto prev = text(d, "previousStatus", ""); !prev.empty()) {
            out << " (was " << prev << ")";
        }
        out << " cu " << text(d, "totalCu");
    } else if (e.event == "node") {
        out << " " << text(d, "nodeId") << " " << text(d, "status") << " cu " << text(d, "cu");
        if (auto err = error_text(d); !err.empty()) {
            out << " " << err;
        }
    } else if (e.event == "fork") {
        out << " " << text(d, "forkId") << " chain " << text(d, "chainId") << " "
            << text(d, "state");
        if (auto err = error_text(d); !err.empty()) {
            out << " " << err;
        }
    } else if (e.event == "cu") {
        out << " " << text(d, "totalCu");
    } else if (e.event == "cancellation") {
        out << " by " << text(d, "requestedBy");
        if (const auto* r = d.if_contains("reason"); r && r->is_string()) {
            out << ": " << std::string(r->get_string());
        }
        if (const auto* forks = d.if_contains("forks"); forks && forks->is_array()) {
            out << " (" << forks->get_array().size() << " forks torn down)";
        }
    } else if (e.event == "end") {
        out << " " << text(d, "status") << " cu " << text(d, "totalCu") << " at "
            << text(d, "finishedAt");
    } else if (e.event == "snapshot") {
        out << " " << text(d, "status") << " cu " << text(d, "totalCu");
    }
    return out.str();
}

Progress::Progress(const json::object& run) : id_(text(run, "id")), status_(text(run, "status")) {
    cu_ = text(run, "totalCu", "0");
    const auto* es = object_at(run, "executionState");
    if (const auto* nodes = es ? object_at(*es, "nodes") : nullptr) {
        for (const auto& [id, n] : *nodes) {
            nodes_[std::string(id)] = n.is_object() ? text(n.get_object(), "status") : "";
        }
    }
}

bool Progress::apply(const SseEvent& e) {
    boost::system::error_code ec;
    const json::value v = json::parse(e.data, ec);
    if (ec || !v.is_object()) {
        return false;
    }
    const auto& d = v.get_object();
    if (e.event == "node") {
        nodes_[text(d, "nodeId")] = text(d, "status");
        return true;
    }
    if (e.event == "run" || e.event == "end" || e.event == "cu" || e.event == "snapshot") {
        if (e.event != "cu") {
            status_ = text(d, "status");
        }
        cu_ = text(d, "totalCu", cu_);
        return true;
    }
    return false;
}

std::string Progress::line() const {
    std::size_t done = 0;
    for (const auto& [id, st] : nodes_) {
        done += st != "pending" && st != "running" && st != "waiting" ? 1 : 0;
    }
    std::ostringstream out;
    out << "\r\x1b[K" << id_ << "  " << status_ << "  nodes " << done << "/" << nodes_.size()
        << "  " << cu_ << " CU";
    return out.str();
}

int report_http_error(std::ostream& err,
                      const std::string& what,
                      const std::string& server,
                      const ClientResponse& r) {
    if (r.status == 0) {
        err << "forkrun: " << what << ": no answer from " << server << ": " << r.error << "\n";
        return 2;
    }
    boost::system::error_code ec;
    const json::value v = json::parse(r.body, ec);
    const auto* env = !ec && v.is_object() ? &v.get_object() : nullptr;
    err << "forkrun: " << what << ": HTTP " << r.status << ": "
        << (env ? text(*env, "message", "") : r.body.substr(0, 200)) << "\n";
    const auto* data = env ? object_at(*env, "data") : nullptr;
    if (const auto* errors = data ? data->if_contains("errors") : nullptr;
        errors && errors->is_array()) {
        for (const auto& e : errors->get_array()) {
            if (e.is_object()) {
                err << "  " << text(e.get_object(), "path", "") << ": "
                    << text(e.get_object(), "message", "") << "\n";
            }
        }
    }
    return 2;
}

}  // namespace forkrun::app
