// The service endpoints, which need no token: /metrics, /healthz and /openapi.json.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "http/api.hpp"
#include "http/envelope.hpp"
#include "http/openapi.hpp"

namespace forkrun::http {

namespace json = boost::json;

std::optional<ApiResponse> Api::service_route(const ApiRequest& req,
                                              std::string_view path,
                                              std::string& request_id) {
    if (path != "/metrics" && path != "/healthz" && path != "/openapi.json") {
        return std::nullopt;
    }
    if (req.method != "GET") {
        auto r = error(405, "method not allowed: use GET", std::move(request_id));
        r.headers.emplace_back("Allow", "GET");
        return r;
    }
    ApiResponse r;
    r.request_id = std::move(request_id);
    if (path == "/metrics") {
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
