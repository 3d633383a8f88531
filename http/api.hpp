// The routes of the contract, independent of the HTTP library: a request in, a response out.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/controller.hpp"
#include "controller/rpc_gateway.hpp"
#include "http/auth.hpp"
#include "http/cursor.hpp"
#include "http/metrics.hpp"
#include "http/query.hpp"

namespace forkrun::controller {
class RemoteRuns;
}

namespace forkrun::http {

struct LongPoll;

/// The collection of runs; a run's own path is `kRunsPath + "/" + id`.
inline constexpr std::string_view kRunsPath = "/v1/runs";

struct ApiRequest {
    std::string_view method;  // "GET", "POST", ...
    std::string_view target;  // path and query
    std::string_view authorization;
    std::string_view content_type;
    std::string_view request_id;           // the X-Request-Id header, as sent
    std::string_view last_event_id;        // the Last-Event-ID header, as sent
    std::string_view origin;               // the Origin header (CORS), as sent
    std::string_view cors_request_method;  // Access-Control-Request-Method (a preflight)
    std::string_view idempotency_key;      // the Idempotency-Key header, as sent
    unsigned idempotency_keys = 0;         // how many Idempotency-Key headers came (0: none)
    std::string_view body;
};

/// A response body made piecewise (an event stream): the server sends each chunk as it comes.
class ResponseStream {
  public:
    virtual ~ResponseStream() = default;
    /// The next bytes to send, or nullopt once the body is over. Runs on the connection's
    /// executor.
    virtual boost::asio::awaitable<std::optional<std::string>> next() = 0;
    /// Ends the body soon (shutdown): a pending or later next() answers nullopt. Call it on the
    /// connection's executor.
    virtual void stop() = 0;
};

struct ApiResponse {
    unsigned status = 200;
    std::string body;
    std::string request_id;
    std::vector<std::pair<std::string_view, std::string>> headers;  // Allow, Location, ...
    std::string_view content_type = "application/json";
    /// For the access log: the fork an rpcUrl request reached (its secret is never logged).
    std::string fork_id;
    /// Set: the body is this stream, sent after the header until it ends; the connection then
    /// closes.
    std::shared_ptr<ResponseStream> stream;
};

struct ApiOptions {
    std::chrono::milliseconds max_long_poll{60000};
    /// An event stream with nothing to send for this long sends a `: ping` comment.
    std::chrono::milliseconds event_ping{10000};
    /// An organization stream writes to a subscriber at most once per this interval; what
    /// comes sooner goes out together (decision 65). A run's stream writes every event at once.
    std::chrono::milliseconds org_event_pace{10};
    std::string version = FORKRUN_VERSION;
    /// What /metrics reports of the controller; null: only the HTTP and gateway counts.
    const controller::ControllerMetrics* controller_metrics = nullptr;
    /// The key list cursors are sealed with; empty: a random one per process.
    std::string cursor_key;
    /// Runs of other controllers on the same durable store (read and cancelled through it);
    /// null: only this process's runs exist.
    controller::RemoteRuns* remote = nullptr;
};

class Api {
  public:
    /// `gateway` serves the forks' rpcUrls; null when the server has no forks.
    Api(controller::Controller& controller,
        const TokenStore& tokens,
        ApiOptions options,
        controller::RpcGateway* gateway = nullptr);

    /// Answers one request, counted in /metrics. Runs on the connection's strand; never
    /// blocks it.
    boost::asio::awaitable<ApiResponse> handle(const ApiRequest& req);

    /// The gateway behind the rpcUrls (null when the server has no forks).
    controller::RpcGateway* gateway() const { return gateway_; }

    /// An error envelope for failures found before routing (body too large, bad framing).
    static ApiResponse error(unsigned status, std::string_view message, std::string request_id);
    /// The 400 of a request with these problems, every one listed.
    static ApiResponse bad_request(const controller::FieldErrors& errors, std::string request_id);
    /// An envelope around already-serialized `data` (a run's JSON, or "null").
    static ApiResponse answer(unsigned status,
                              std::string_view data,
                              std::string_view message,
                              std::string request_id);
    /// answer() with the message "success".
    static ApiResponse success(unsigned status, std::string_view data, std::string request_id);

  private:
    boost::asio::awaitable<ApiResponse> route(const ApiRequest& req, const RequestTarget& target);
    /// GET /metrics, /healthz and /openapi.json, which need no token (api_service.cpp); nullopt
    /// for any other path (`request_id` is then left as it was).
    std::optional<ApiResponse> service_route(const ApiRequest& req,
                                             std::string_view path,
                                             std::string& request_id);
    /// GET /v1/runs/{id}, its cancel and release, of a run held here (api_run.cpp).
    boost::asio::awaitable<ApiResponse> get_run(const TokenGrant& grant,
                                                std::string_view id,
                                                std::string_view query,
                                                std::string request_id);
    /// GET /v1/runs (api_list.cpp): from the memory store; list_shared_runs when the database
    /// may hold runs this process does not, merged with them.
    ApiResponse list_runs(const TokenGrant& grant, std::string_view query, std::string request_id);
    boost::asio::awaitable<ApiResponse> list_shared_runs(const TokenGrant& grant,
                                                         std::string_view query,
                                                         std::string request_id);
    /// POST /v1/runs (api_create.cpp).
    boost::asio::awaitable<ApiResponse> create_run(const ApiRequest& req,
                                                   const TokenGrant& grant,
                                                   std::string request_id);
    /// The answer to a create whose Idempotency-Key already made a run, or that was refused.
    ApiResponse idempotent_answer(const controller::IdempotencyClaim& claim,
                                  const TokenGrant& grant,
                                  std::string_view key,
                                  std::string request_id);
    boost::asio::awaitable<ApiResponse> cancel_run(const ApiRequest& req,
                                                   const TokenGrant& grant,
                                                   std::string_view id,
                                                   std::string request_id);
    /// GET /v1/runs/{id} and its long-poll, and the cancel, of a run this process does not hold
    /// (api_remote.cpp): read through the durable store; a cancel is carried out by the owner.
    boost::asio::awaitable<ApiResponse> get_remote_run(const TokenGrant& grant,
                                                       std::string_view id,
                                                       const LongPoll& poll,
                                                       std::string request_id);
    boost::asio::awaitable<ApiResponse> cancel_remote_run(const TokenGrant& grant,
                                                          std::string_view id,
                                                          std::optional<std::string> reason,
                                                          std::string request_id);
    /// A create's Idempotency-Key made a run another controller holds: that run, replayed.
    boost::asio::awaitable<ApiResponse> replay_remote(const controller::IdempotencyClaim& claim,
                                                      const TokenGrant& grant,
                                                      std::string_view key,
                                                      std::string request_id);
    /// POST /v1/runs/{id}/release: a failed run's kept forks torn down now.
    boost::asio::awaitable<ApiResponse> release_run(const ApiRequest& req,
                                                    const TokenGrant& grant,
                                                    std::string_view id,
                                                    std::string request_id);

    /// GET /v1/runs/{id}/events and GET /v1/events (api_events.cpp).
    boost::asio::awaitable<ApiResponse> run_events(const ApiRequest& req,
                                                   const TokenGrant& grant,
                                                   std::string_view id,
                                                   std::string_view query,
                                                   std::string request_id);
    boost::asio::awaitable<ApiResponse> organization_events(const ApiRequest& req,
                                                            const TokenGrant& grant,
                                                            std::string_view query,
                                                            std::string request_id);

    controller::Controller& controller_;
    const TokenStore& tokens_;
    ApiOptions options_;
    controller::RpcGateway* gateway_;
    HttpMetrics metrics_;
    CursorCodec cursors_;
};

}  // namespace forkrun::http
