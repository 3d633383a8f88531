// Rendering /metrics.
#include "http/metrics.hpp"

namespace forkrun::http {

void HttpMetrics::count(std::string_view route,
                        unsigned code,
                        std::chrono::steady_clock::duration took) {
    seconds_.observe(took);
    std::lock_guard lock(mu_);
    ++requests_[{std::string(route), code}];
}

void HttpMetrics::render(std::string& out) const {
    out.append("# HELP forkrun_http_requests_total HTTP requests answered, by route and code.\n");
    out.append("# TYPE forkrun_http_requests_total counter\n");
    {
        std::lock_guard lock(mu_);
        for (const auto& [key, n] : requests_) {
            out.append("forkrun_http_requests_total{route=\"").append(key.first);
            out.append("\",code=\"").append(std::to_string(key.second)).append("\"} ");
            out.append(std::to_string(n)).push_back('\n');
        }
    }
    out.append("# HELP forkrun_http_request_seconds Time to answer an HTTP request.\n");
    out.append("# TYPE forkrun_http_request_seconds histogram\n");
    seconds_.render(out, "forkrun_http_request_seconds");
}

std::string_view route_label(const RequestTarget& target) {
    const std::string_view path = target.path;
    const std::vector<std::string>& segments = target.segments;
    if (path == "/v1/runs" || path == "/healthz" || path == "/metrics" || path == "/v1/events" ||
        path == "/openapi.json" || path == "/" || path == "/assets/app.js" ||
        path == "/assets/app.css") {
        return path;
    }
    if (path.starts_with(controller::RpcGateway::kPathPrefix)) {
        return "/rpc/{secret}";
    }
    if (segments.size() >= 3 && segments[0] == "v1" && segments[1] == "runs") {
        if (segments.size() == 3) {
            return "/v1/runs/{id}";
        }
        if (segments.size() == 4 && segments[3] == "cancel") {
            return "/v1/runs/{id}/cancel";
        }
        if (segments.size() == 4 && segments[3] == "events") {
            return "/v1/runs/{id}/events";
        }
        if (segments.size() == 4 && segments[3] == "release") {
            return "/v1/runs/{id}/release";
        }
    }
    return "other";
}

namespace {

void metric(std::string& out,
            std::string_view name,
            std::string_view type,
            std::string_view help,
            std::string_view labels,
            std::int64_t value) {
    out.append("# HELP ").append(name).append(" ").append(help).push_back('\n');
    out.append("# TYPE ").append(name).append(" ").append(type).push_back('\n');
    out.append(name).append(labels).append(" ").append(std::to_string(value)).push_back('\n');
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::int64_t v) {
    out.append(name).append(labels).append(" ").append(std::to_string(v)).push_back('\n');
}

}  // namespace

std::string render_metrics(const HttpMetrics& http,
                           const controller::ControllerMetrics* c,
                           std::size_t active_runs,
                           const controller::RpcGateway* gateway) {
    std::string out;
    out.reserve(8192);
    http.render(out);
    metric(out, "forkrun_runs_active", "gauge", "Runs that are not terminal.", "",
           static_cast<std::int64_t>(active_runs));
    if (c != nullptr) {
        metric(out, "forkrun_runs_created_total", "counter", "Runs created.", "",
               static_cast<std::int64_t>(c->runs_created.load()));
        out.append("# HELP forkrun_runs_finished_total Runs that reached a terminal status.\n");
        out.append("# TYPE forkrun_runs_finished_total counter\n");
        sample(out, "forkrun_runs_finished_total", "{status=\"success\"}",
               static_cast<std::int64_t>(c->runs_success.load()));
        sample(out, "forkrun_runs_finished_total", "{status=\"failure\"}",
               static_cast<std::int64_t>(c->runs_failure.load()));
        sample(out, "forkrun_runs_finished_total", "{status=\"cancelled\"}",
               static_cast<std::int64_t>(c->runs_cancelled.load()));
        out.append("# HELP forkrun_forks_live Forks up now: fork-mode anvils and pool leases.\n");
        out.append("# TYPE forkrun_forks_live gauge\n");
        sample(out, "forkrun_forks_live", "{mode=\"fork\"}", c->forks_live_fork.load());
        sample(out, "forkrun_forks_live", "{mode=\"pool\"}", c->forks_live_pool.load());
        metric(out, "forkrun_cu_total", "counter", "totalCu of every finished run.", "",
               static_cast<std::int64_t>(c->cu_total.load()));
        out.append("# HELP forkrun_fork_provision_seconds One fork, from asking to ready.\n");
        out.append("# TYPE forkrun_fork_provision_seconds histogram\n");
        c->fork_provision_seconds.render(out, "forkrun_fork_provision_seconds");
        if (c->spawn_ahead) {
            const auto a = c->spawn_ahead();
            metric(out, "forkrun_spawn_ahead_ready", "gauge",
                   "Forks started ahead for fork-mode runs, waiting to be taken.", "",
                   static_cast<std::int64_t>(a.ready));
            out.append(
                "# HELP forkrun_spawn_ahead_total Forks started ahead: taken by a run, missed "
                "(none was ready), aged (replaced at the max age), died (exited untaken).\n");
            out.append("# TYPE forkrun_spawn_ahead_total counter\n");
            const std::pair<std::string_view, std::uint64_t> events[] = {
                {"taken", a.taken}, {"missed", a.missed}, {"aged", a.aged}, {"died", a.died}};
            for (const auto& [name, n] : events) {
                sample(out, "forkrun_spawn_ahead_total", "{event=\"" + std::string(name) + "\"}",
                       static_cast<std::int64_t>(n));
            }
        }
        out.append("# HELP forkrun_cancel_seconds A cancel, from request to answer.\n");
        out.append("# TYPE forkrun_cancel_seconds histogram\n");
        c->cancel_seconds.render(out, "forkrun_cancel_seconds");
    }
    if (gateway != nullptr) {
        const auto g = gateway->counts();
        out.append("# HELP forkrun_gateway_calls_total JSON-RPC calls to rpcUrls, by outcome.\n");
        out.append("# TYPE forkrun_gateway_calls_total counter\n");
        const std::pair<std::string_view, std::uint64_t> outcomes[] = {
            {"forwarded", g.forwarded}, {"refused", g.refused}, {"invalid", g.invalid},
            {"not_found", g.not_found}, {"gone", g.gone},       {"failed", g.failed}};
        for (const auto& [name, n] : outcomes) {
            sample(out, "forkrun_gateway_calls_total", "{outcome=\"" + std::string(name) + "\"}",
                   static_cast<std::int64_t>(n));
        }
        metric(out, "forkrun_gateway_websockets", "gauge", "WebSockets open on rpcUrls.", "",
               static_cast<std::int64_t>(g.sockets));
        metric(out, "forkrun_gateway_notifications_total", "counter",
               "Subscription notifications relayed to WebSocket rpcUrls.", "",
               static_cast<std::int64_t>(g.notifications));
    }
    return out;
}

}  // namespace forkrun::http
