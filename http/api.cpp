// Routing and auth. Order of checks: route (404), method (405), auth (401/403), run id (404),
// media type (415), body (400); the endpoints are in api_run.cpp, api_create.cpp, api_list.cpp,
// api_events.cpp, api_remote.cpp and api_service.cpp.
#include "http/api.hpp"

#include "controller/remote_runs.hpp"
#include "http/envelope.hpp"
#include "http/query.hpp"
#include "http/request_body.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
using namespace forkrun::controller;

namespace {

ApiResponse api_response(unsigned status, std::string body, std::string request_id) {
    ApiResponse r;
    r.status = status;
    r.body = std::move(body);
    r.request_id = std::move(request_id);
    return r;
}

}  // namespace

Api::Api(Controller& controller, const TokenStore& tokens, ApiOptions options, RpcGateway* gateway)
    : controller_(controller),
      tokens_(tokens),
      options_(std::move(options)),
      gateway_(gateway),
      cursors_(options_.cursor_key) {}

ApiResponse Api::bad_request(const FieldErrors& errors, std::string request_id) {
    const std::string msg = errors.size() == 1
                                ? "invalid request: " + errors[0].path + " " + errors[0].message
                                : "invalid request: " + std::to_string(errors.size()) + " problems";
    auto body = validation_envelope(errors, msg, request_id);  // before request_id moves
    return api_response(400, std::move(body), std::move(request_id));
}

ApiResponse Api::error(unsigned status, std::string_view message, std::string request_id) {
    return answer(status, "null", message, std::move(request_id));
}

ApiResponse Api::answer(unsigned status,
                        std::string_view data,
                        std::string_view message,
                        std::string request_id) {
    auto body = envelope(status, data, message, request_id);  // before request_id moves
    return api_response(status, std::move(body), std::move(request_id));
}

ApiResponse Api::success(unsigned status, std::string_view data, std::string request_id) {
    return answer(status, data, "success", std::move(request_id));
}

asio::awaitable<ApiResponse> Api::handle(const ApiRequest& req) {
    const auto started = std::chrono::steady_clock::now();
    const RequestTarget target = split_target(req.target);
    auto r = co_await route(req, target);
    metrics_.count(route_label(target), r.status, std::chrono::steady_clock::now() - started);
    co_return r;
}

asio::awaitable<ApiResponse> Api::route(const ApiRequest& req, const RequestTarget& target) {
    std::string request_id = request_id_for(req.request_id);
    const std::string_view path = target.path;
    const std::string_view query = target.query;
    const std::vector<std::string>& segments = target.segments;

    if (auto r = service_route(req, path, request_id)) {
        co_return std::move(*r);
    }

    // A fork's rpcUrl: the secret in the path is the credential; JSON-RPC in and out.
    if (gateway_ && path.starts_with(RpcGateway::kPathPrefix)) {
        if (req.method != "POST") {
            ApiResponse r;
            r.status = 405;
            r.body = jsonrpc_error_body(-32600, "JSON-RPC takes POST");
            r.request_id = std::move(request_id);
            r.headers.emplace_back("Allow", "POST");
            co_return r;
        }
        auto reply = co_await gateway_->forward(path.substr(RpcGateway::kPathPrefix.size()),
                                                std::string(req.body));
        ApiResponse r;
        r.status = reply.status;
        r.body = std::move(reply.body);
        r.request_id = std::move(request_id);
        r.fork_id = std::move(reply.fork_id);
        co_return r;
    }

    // Route: /v1/runs, /v1/runs/{id}, /v1/runs/{id}/cancel, /v1/runs/{id}/release,
    // /v1/runs/{id}/events, /v1/events
    enum class Route { kRuns, kRun, kCancel, kRelease, kEvents, kOrgEvents } route;
    std::string_view id;
    if (path == kRunsPath) {
        route = Route::kRuns;
    } else if (segments.size() >= 3 && segments.size() <= 4 && segments[0] == "v1" &&
               segments[1] == "runs" && !segments[2].empty()) {
        id = segments[2];
        const std::string_view action = segments.size() == 4 ? segments[3] : std::string_view();
        if (segments.size() == 3) {
            route = Route::kRun;
        } else if (action == "cancel") {
            route = Route::kCancel;
        } else if (action == "release") {
            route = Route::kRelease;
        } else if (action == "events") {
            route = Route::kEvents;
        } else {
            co_return error(404, "no such route: " + std::string(path), std::move(request_id));
        }
    } else if (path == "/v1/events") {
        route = Route::kOrgEvents;
    } else {
        co_return error(404, "no such route: " + std::string(path), std::move(request_id));
    }

    const bool post_only = route == Route::kCancel || route == Route::kRelease;
    const std::string_view allowed =
        route == Route::kRuns ? "GET, POST" : (post_only ? "POST" : "GET");
    const bool method_ok = route == Route::kRuns ? (req.method == "GET" || req.method == "POST")
                                                 : req.method == (post_only ? "POST" : "GET");
    if (!method_ok) {
        auto r = error(
            405,
            "method " + std::string(req.method) + " not allowed here: use " + std::string(allowed),
            std::move(request_id));
        r.headers.emplace_back("Allow", std::string(allowed));
        co_return r;
    }

    // Auth: "Bearer <token>".
    std::optional<TokenGrant> grant;
    std::string_view auth = req.authorization;
    if (auth.size() > 7 && iequals_ascii(auth.substr(0, 7), "bearer ")) {
        auto token = auth.substr(7);
        while (!token.empty() && token.front() == ' ') {
            token.remove_prefix(1);
        }
        grant = tokens_.find(token);
    }
    if (!grant) {
        auto r = error(401,
                       auth.empty() ? "authentication required: send Authorization: Bearer <token>"
                                    : "invalid bearer token",
                       std::move(request_id));
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        co_return r;
    }
    const bool write = req.method == "POST";
    const Scope needed = write ? kRunsWrite : kRunsRead;
    if (!grant->allows(needed)) {
        co_return error(
            403, std::string("this token lacks the scope ") + (write ? "runs:write" : "runs:read"),
            std::move(request_id));
    }

    switch (route) {
        case Route::kRuns:
            if (write) {
                co_return co_await create_run(req, *grant, std::move(request_id));
            }
            if (options_.remote && options_.remote->lists_from_store()) {
                co_return co_await list_shared_runs(*grant, query, std::move(request_id));
            }
            co_return list_runs(*grant, query, std::move(request_id));
        case Route::kRun:
            co_return co_await get_run(*grant, id, query, std::move(request_id));
        case Route::kCancel:
            co_return co_await cancel_run(req, *grant, id, std::move(request_id));
        case Route::kRelease:
            co_return co_await release_run(req, *grant, id, std::move(request_id));
        case Route::kEvents:
            co_return co_await run_events(req, *grant, id, query, std::move(request_id));
        case Route::kOrgEvents:
            co_return co_await organization_events(req, *grant, query, std::move(request_id));
    }
    co_return error(404, "no such route", std::move(request_id));
}

}  // namespace forkrun::http
