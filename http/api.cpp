// Routing, auth, and the five endpoints. Order of checks: route (404), method (405), auth
// (401/403), run id (404), media type (415), body (400).
#include "http/api.hpp"
#include "util/json_text.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "controller/remote_runs.hpp"
#include "http/envelope.hpp"
#include "http/idempotency.hpp"
#include "http/long_poll.hpp"
#include "http/query.hpp"
#include "http/run_json.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace forkrun::controller;

namespace {

constexpr std::string_view kRunsPrefix = "/v1/runs";
constexpr std::size_t kMaxReason = 500;
// How long a repeat waits for the first request with its Idempotency-Key before a 409.
constexpr std::chrono::seconds kIdempotencyWait{10};

ApiResponse respond(unsigned status, std::string body, std::string request_id) {
    ApiResponse r;
    r.status = status;
    r.body = std::move(body);
    r.request_id = std::move(request_id);
    return r;
}

ApiResponse ok(unsigned status, std::string_view data, std::string request_id) {
    auto body = envelope(status, data, "success", request_id);
    return respond(status, std::move(body), std::move(request_id));
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

bool is_json_media_type(std::string_view ct) {
    const auto semi = ct.find(';');
    auto type = ct.substr(0, semi);
    while (!type.empty() && type.back() == ' ') {
        type.remove_suffix(1);
    }
    return iequals(type, "application/json");
}

bool is_blank(std::string_view s) {
    return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Parses a JSON body; on failure, the 400 that says why.
std::optional<json::value> parse_body(std::string_view body, FieldErrors& errors) {
    json::parse_options opts;
    opts.max_depth = 64;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec, {}, opts);
    if (ec) {
        errors.push_back({"", "the body is not valid JSON (" + ec.message() + ")"});
        return std::nullopt;
    }
    if (auto at = util::non_finite_number_at(v)) {
        errors.push_back({*at, "is a number out of range (beyond a double's 1.8e308)"});
        return std::nullopt;
    }
    return v;
}

// Wakes a long-poll when its run's status changes.
class TimerWaker : public StatusWatcher {
  public:
    TimerWaker(asio::any_io_executor ex, std::weak_ptr<asio::steady_timer> timer)
        : ex_(std::move(ex)), timer_(std::move(timer)) {}
    void on_status_change() override {
        asio::post(ex_, [t = timer_] {
            if (auto timer = t.lock()) {
                timer->cancel();
            }
        });
    }

  private:
    asio::any_io_executor ex_;
    std::weak_ptr<asio::steady_timer> timer_;
};

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
    return respond(400, std::move(body), std::move(request_id));
}

ApiResponse Api::error(unsigned status, std::string_view message, std::string request_id) {
    auto body = envelope(status, "null", message, request_id);
    return respond(status, std::move(body), std::move(request_id));
}

namespace {

// A create over a quota: 429, the limit named, and when to try again.
ApiResponse quota_refused(const QuotaRefusal& quota, std::string request_id) {
    auto r = Api::error(429, quota.message, std::move(request_id));
    r.headers.emplace_back("Retry-After", std::to_string(quota.retry_after.count()));
    return r;
}

}  // namespace

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
    if (path == kRunsPrefix) {
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
    if (auth.size() > 7 && iequals(auth.substr(0, 7), "bearer ")) {
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

asio::awaitable<ApiResponse> Api::get_run(const TokenGrant& grant,
                                          std::string_view id,
                                          std::string_view query,
                                          std::string request_id) {
    auto rec = controller_.find(grant.principal, id);
    if (!rec && !options_.remote) {
        co_return error(404, "no run " + std::string(id), std::move(request_id));
    }
    FieldErrors errors;
    const auto poll = parse_long_poll(query, options_.max_long_poll, errors);
    if (!errors.empty()) {
        co_return bad_request(errors, std::move(request_id));
    }
    if (!rec) {
        co_return co_await get_remote_run(grant, id, poll, std::move(request_id));
    }
    const std::int64_t timeout_ms = poll.timeout_ms;
    if (poll.want_terminal) {
        const bool want_terminal = *poll.want_terminal;
        auto reached = [&] {
            return rec->read([&](const Run& r) {
                return is_terminal(r.status) || (!want_terminal && r.has_run);
            });
        };
        auto ex = co_await asio::this_coro::executor;
        auto timer = std::make_shared<asio::steady_timer>(ex);
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        auto waker = std::make_shared<TimerWaker>(ex, timer);
        for (;;) {
            rec->add_watcher(waker);
            if (reached() || std::chrono::steady_clock::now() >= deadline) {
                break;
            }
            timer->expires_at(deadline);
            boost::system::error_code ec;
            co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    co_return ok(200, *run_json(*rec, RunView::kFull), std::move(request_id));
}

asio::awaitable<ApiResponse> Api::create_run(const ApiRequest& req,
                                             const TokenGrant& grant,
                                             std::string request_id) {
    if (!is_json_media_type(req.content_type)) {
        co_return error(415, "the body must be application/json", std::move(request_id));
    }
    FieldErrors errors;
    if (req.idempotency_keys > 1) {
        errors.push_back({"/headers/Idempotency-Key", "must be sent once"});
    } else if (req.idempotency_keys == 1) {
        if (auto why = idempotency_key_problem(req.idempotency_key); !why.empty()) {
            errors.push_back({"/headers/Idempotency-Key", std::move(why)});
        }
    }
    auto body = parse_body(req.body, errors);
    if (!errors.empty()) {
        if (body) {  // a bad key: the body's own problems too, in one answer
            auto more = controller_.request_problems(grant.principal, *body);
            errors.insert(errors.end(), more.begin(), more.end());
        }
        co_return bad_request(errors, std::move(request_id));
    }
    // A claimed key is released unless a run is made under it: a refused create (400, 429,
    // 503) may be sent again with the same key.
    struct KeyClaim {
        IdempotencyKeys* keys = nullptr;
        std::uint64_t ticket = 0;
        ~KeyClaim() {
            if (keys) {
                keys->release(ticket);
            }
        }
    } held;
    if (req.idempotency_keys == 1) {
        auto& keys = controller_.idempotency_keys();
        const auto claim =
            co_await keys.claim(grant.principal.organization_id, std::string(req.idempotency_key),
                                body_digest(*body), kIdempotencyWait);
        if (claim.outcome != IdempotencyClaim::Outcome::kClaimed) {
            if (claim.outcome == IdempotencyClaim::Outcome::kReplay && options_.remote &&
                !controller_.find(grant.principal, claim.run_id)) {
                co_return co_await replay_remote(claim, grant, req.idempotency_key,
                                                 std::move(request_id));
            }
            co_return idempotent_answer(claim, grant, req.idempotency_key, std::move(request_id));
        }
        held.keys = &keys;
        held.ticket = claim.ticket;
    }
    // Under a burst the answer waits until the execution thread has room for one more run.
    auto slot = co_await controller_.reserve_start();
    if (!slot) {
        co_return error(503, "the server is shutting down and accepts no new runs",
                        std::move(request_id));
    }
    auto here = co_await asio::this_coro::executor;
    auto created = controller_.create_run(grant.principal, *body, std::move(slot), here);
    if (!created) {
        const CreateRefusal refusal = created.error();  // error() answers a copy
        if (!refusal.quota) {
            co_return bad_request(refusal.errors, std::move(request_id));
        }
        co_return quota_refused(*refusal.quota, std::move(request_id));
    }
    const auto& rec = *created;
    if (controller_.durable()) {
        // Acknowledged means stored: 201 only once the run's row is committed. Not stored, the
        // run was never made: its key (if any) is released with `held`.
        const auto committed = co_await controller_.commit_created(rec);
        if (committed.quota) {
            co_return quota_refused(*committed.quota, std::move(request_id));
        }
        if (!committed.committed()) {
            auto r = error(
                503, "the run could not be stored (" + committed.ec.message() + "); try again",
                std::move(request_id));
            r.headers.emplace_back("Retry-After", "1");
            co_return r;
        }
    }
    if (held.keys) {
        held.keys->complete(held.ticket, rec->id(), 201);
        held.keys = nullptr;
    }
    auto r = ok(201, *run_json(*rec, RunView::kFull), std::move(request_id));
    r.headers.emplace_back("Location", std::string(kRunsPrefix) + "/" + rec->id());
    co_return r;
}

ApiResponse Api::idempotent_answer(const IdempotencyClaim& claim,
                                   const TokenGrant& grant,
                                   std::string_view key,
                                   std::string request_id) {
    using Outcome = IdempotencyClaim::Outcome;
    const std::string quoted = json_quote(key);
    if (claim.outcome == Outcome::kMismatch) {
        return error(422,
                     "Idempotency-Key " + quoted +
                         " was used within 24 h with a different body (run " + claim.run_id +
                         "); send a new key for a new run",
                     std::move(request_id));
    }
    if (claim.outcome == Outcome::kInProgress) {
        return error(409,
                     "a request with Idempotency-Key " + quoted +
                         " is still being processed; send it again later",
                     std::move(request_id));
    }
    auto rec = controller_.find(grant.principal, claim.run_id);
    if (!rec) {
        return error(409,
                     "the run " + claim.run_id + " that Idempotency-Key " + quoted +
                         " created is no longer stored (retention); send a new key for a new run",
                     std::move(request_id));
    }
    auto r = ok(claim.status, *run_json(*rec, RunView::kFull), std::move(request_id));
    r.headers.emplace_back("Location", std::string(kRunsPrefix) + "/" + rec->id());
    r.headers.emplace_back("Idempotent-Replayed", "true");
    return r;
}

asio::awaitable<ApiResponse> Api::cancel_run(const ApiRequest& req,
                                             const TokenGrant& grant,
                                             std::string_view id,
                                             std::string request_id) {
    const bool here = controller_.find(grant.principal, id) != nullptr;
    if (!here && !options_.remote) {
        co_return error(404, "no run " + std::string(id), std::move(request_id));
    }
    std::optional<std::string> reason;
    if (!is_blank(req.body)) {
        if (!is_json_media_type(req.content_type)) {
            co_return error(415, "the body must be application/json", std::move(request_id));
        }
        FieldErrors errors;
        auto body = parse_body(req.body, errors);
        if (body) {
            if (!body->is_object()) {
                errors.push_back({"", "the body must be a JSON object"});
            } else {
                for (const auto& [k, v] : body->as_object()) {
                    if (k != "reason") {
                        errors.push_back({"/" + std::string(k), "unknown field"});
                    } else if (v.is_string()) {
                        if (v.get_string().size() > kMaxReason) {
                            errors.push_back({"/reason", "must be at most 500 characters"});
                        } else {
                            reason = std::string(v.get_string());
                        }
                    } else if (!v.is_null()) {
                        errors.push_back({"/reason", "must be a string or null"});
                    }
                }
            }
        }
        if (!errors.empty()) {
            co_return bad_request(errors, std::move(request_id));
        }
    }
    if (!here) {
        co_return co_await cancel_remote_run(grant, id, std::move(reason), std::move(request_id));
    }
    auto result = co_await controller_.cancel(grant.principal, std::string(id), std::move(reason));
    switch (result.outcome) {
        case CancelOutcome::kNotFound:
            co_return error(404, "no run " + std::string(id), std::move(request_id));
        case CancelOutcome::kAlreadyTerminal: {
            const auto st = result.record->status();
            auto body = envelope(409, *run_json(*result.record, RunView::kFull),
                                 "run is already " + std::string(to_string(st)), request_id);
            co_return respond(409, std::move(body), std::move(request_id));
        }
        case CancelOutcome::kNotStored:
            co_return error(503,
                            "the run is cancelled, but the database has not stored it yet (it "
                            "will be written when the database is back)",
                            std::move(request_id));
        case CancelOutcome::kCancelled:
            break;
    }
    co_return ok(200, *run_json(*result.record, RunView::kFull), std::move(request_id));
}

asio::awaitable<ApiResponse> Api::release_run(const ApiRequest& req,
                                              const TokenGrant& grant,
                                              std::string_view id,
                                              std::string request_id) {
    if (!controller_.find(grant.principal, id)) {
        co_return error(404, "no run " + std::string(id), std::move(request_id));
    }
    if (!is_blank(req.body)) {
        co_return bad_request({{"", "the release takes no body"}}, std::move(request_id));
    }
    auto result = co_await controller_.release(grant.principal, std::string(id));
    switch (result.outcome) {
        case ReleaseOutcome::kNotFound:
            co_return error(404, "no run " + std::string(id), std::move(request_id));
        case ReleaseOutcome::kNotKept: {
            const auto st = result.record->status();
            auto body = envelope(
                409, *run_json(*result.record, RunView::kFull),
                is_terminal(st) ? "run is " + std::string(to_string(st)) + " and keeps no forks"
                                : "run is " + std::string(to_string(st)) +
                                      ": its forks are kept only once it has "
                                      "failed",
                request_id);
            co_return respond(409, std::move(body), std::move(request_id));
        }
        case ReleaseOutcome::kReleased:
            break;
    }
    co_return ok(200, *run_json(*result.record, RunView::kFull), std::move(request_id));
}

}  // namespace forkrun::http
