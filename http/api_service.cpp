// The service endpoints, which need no token: /metrics, /healthz, /openapi.json and the
// dashboard's files (/, /assets/app.js, /assets/app.css).
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "http/api.hpp"
#include "http/dashboard.hpp"
#include "http/envelope.hpp"
#include "http/openapi.hpp"

namespace forkrun::http {

namespace json = boost::json;

namespace {

struct Asset {
    std::string_view text;
    std::string_view content_type;
};

// The dashboard's files; nullopt for any other path.
std::optional<Asset> dashboard_asset(std::string_view path) {
    if (path == "/") {
        return Asset{dashboard_index_html(), "text/html; charset=utf-8"};
    }
    if (path == "/assets/app.js") {
        return Asset{dashboard_app_js(), "text/javascript; charset=utf-8"};
    }
    if (path == "/assets/app.css") {
        return Asset{dashboard_app_css(), "text/css; charset=utf-8"};
    }
    return std::nullopt;
}

}  // namespace

std::optional<ApiResponse> Api::service_route(const ApiRequest& req,
                                              std::string_view path,
                                              std::string& request_id) {
    const auto asset = dashboard_asset(path);
    if (!asset && path != "/metrics" && path != "/healthz" && path != "/openapi.json") {
        return std::nullopt;
    }
    if (req.method != "GET") {
        auto r = error(405, "method not allowed: use GET", std::move(request_id));
        r.headers.emplace_back("Allow", "GET");
        return r;
    }
    ApiResponse r;
    r.request_id = std::move(request_id);
    if (asset) {
        // The page holds the token: it runs only its own script, talks only to this origin,
        // and is never framed. The files carry no version in their names, so a browser
        // revalidates them each time rather than running a stale script against a new API.
        r.body = std::string(asset->text);
        r.content_type = asset->content_type;
        r.headers.emplace_back("Content-Security-Policy",
                               "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        r.headers.emplace_back("Cache-Control", "no-cache");
        r.headers.emplace_back("X-Content-Type-Options", "nosniff");
        r.headers.emplace_back("Referrer-Policy", "no-referrer");
    } else if (path == "/metrics") {
        r.body = render_metrics(metrics_, options_.controller_metrics, controller_.active_runs(),
                                gateway_);
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (path == "/healthz") {
        json::object data{{"status", "ok"},
                          {"version", options_.version},
                          {"activeRuns", controller_.active_runs()}};
        r.body = envelope(200, json::serialize(data), "success", r.request_id);
    } else {
        // The document itself, not an envelope: tools read it as it is.
        r.body = std::string(openapi_document());
    }
    return r;
}

}  // namespace forkrun::http
