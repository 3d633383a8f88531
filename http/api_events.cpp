// The event-stream routes: a run's events and the organization's, as Server-Sent Events.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "controller/remote_runs.hpp"
#include "http/api.hpp"
#include "http/envelope.hpp"
#include "http/query.hpp"
#include "http/remote_sse_stream.hpp"
#include "http/run_json.hpp"
#include "http/sse_stream.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace forkrun::controller;

namespace {

std::optional<std::uint64_t> parse_event_id(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

// Where a stream resumes: `?lastEventId=n`, else the Last-Event-ID header.
struct StreamQuery {
    std::optional<std::uint64_t> last_event_id;
    std::optional<std::string> workflow_id;
    std::optional<bool> is_simulation;
    FieldErrors errors;
};

StreamQuery parse_stream_query(const ApiRequest& req, std::string_view query, bool filters) {
    StreamQuery q;
    if (!req.last_event_id.empty()) {
        q.last_event_id = parse_event_id(req.last_event_id);
        if (!q.last_event_id) {
            q.errors.push_back({"/headers/Last-Event-ID", "must be an event id (an integer)"});
        }
    }
    auto params = parse_query(query);
    if (!params) {
        q.errors.push_back({"/query", "the query string is malformed"});
        return q;
    }
    for (const auto& p : *params) {
        if (p.key == "lastEventId") {
            q.last_event_id = parse_event_id(p.value);
            if (!q.last_event_id) {
                q.errors.push_back({"/query/lastEventId", "must be an event id (an integer)"});
            }
        } else if (filters && p.key == "workflowId") {
            q.workflow_id = p.value;
        } else if (filters && p.key == "isSimulation") {
            if (p.value != "true" && p.value != "false") {
                q.errors.push_back({"/query/isSimulation", "must be true or false"});
            } else {
                q.is_simulation = p.value == "true";
            }
        }
    }
    return q;
}

ApiResponse event_stream(std::shared_ptr<ResponseStream> stream, std::string request_id) {
    ApiResponse r;
    r.status = 200;
    r.request_id = std::move(request_id);
    r.content_type = "text/event-stream";
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.stream = std::move(stream);
    return r;
}

}  // namespace

asio::awaitable<ApiResponse> Api::run_events(const ApiRequest& req,
                                             const TokenGrant& grant,
                                             std::string_view id,
                                             std::string_view query,
                                             std::string request_id) {
    auto rec = controller_.find(grant.principal, id);
    auto* remote = options_.remote;
    if (!rec && !remote) {
        co_return error(404, "no run " + std::string(id), std::move(request_id));
    }
    if (!rec) {
        // Another member's run, if the database has it (404 exactly as GET).
        boost::system::error_code ec;
        auto row = co_await remote->async_read(std::string(id), grant.principal.organization_id,
                                               asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            auto r = error(503, "the database is unavailable; try again", std::move(request_id));
            r.headers.emplace_back("Retry-After", "1");
            co_return r;
        }
        if (!row.found) {
            co_return error(404, "no run " + std::string(id), std::move(request_id));
        }
    }
    auto q = parse_stream_query(req, query, false);
    if (!q.errors.empty()) {
        co_return bad_request(q.errors, std::move(request_id));
    }
    auto ex = co_await asio::this_coro::executor;
    // A run this process read back at start holds none of its events; the database has them
    // all, unless it is away or kept none (a run stored before it kept events, or deleted
    // since): then the run as it ended and its end, as before (decision 84).
    bool stored = !rec;
    if (rec && remote && rec->read_back()) {
        boost::system::error_code ec;
        const auto first = co_await remote->async_read_events(
            std::string(id), 0, 1, asio::redirect_error(asio::use_awaitable, ec));
        stored = !ec && !first.empty();
    }
    // Without Last-Event-ID, the run's events from the first.
    auto sub =
        stored ? nullptr
               : rec->subscribe_events(SubscribeFrom{q.last_event_id.value_or(0)}, ex, run_to_json);
    if (stored && remote) {
        // Stored by its owner (another member, or this one before a restart): from the database.
        co_return event_stream(std::make_shared<RemoteSseStream>(
                                   *remote, std::string(id), grant.principal.organization_id,
                                   q.last_event_id.value_or(0), options_.event_ping, ex),
                               std::move(request_id));
    }
    if (!sub) {
        co_return error(503, "the run's events are not open yet; retry", std::move(request_id));
    }
    co_return event_stream(std::make_shared<SseStream>(std::move(sub), true, options_.event_ping),
                           std::move(request_id));
}

asio::awaitable<ApiResponse> Api::organization_events(const ApiRequest& req,
                                                      const TokenGrant& grant,
                                                      std::string_view query,
                                                      std::string request_id) {
    auto q = parse_stream_query(req, query, true);
    if (!q.errors.empty()) {
        co_return bad_request(q.errors, std::move(request_id));
    }
    auto filter = [workflow = q.workflow_id, sim = q.is_simulation](const Event& e) {
        return (!workflow || e.workflow_id == *workflow) && (!sim || e.is_simulation == *sim);
    };
    // The organization has no single state to send where events were dropped: the snapshot
    // says which id the stream continues after, so the client re-reads the runs it shows.
    auto snapshot = [org = grant.principal.organization_id](std::uint64_t latest) {
        Event e;
        e.id = latest;
        e.type = "snapshot";
        e.data = json::serialize(json::object{{"organizationId", org}, {"latestEventId", latest}});
        return std::make_shared<const Event>(std::move(e));
    };
    auto ex = co_await asio::this_coro::executor;
    auto sub = controller_.organization_events(grant.principal)
                   ->subscribe(SubscribeFrom{q.last_event_id}, ex, filter, snapshot);
    co_return event_stream(std::make_shared<SseStream>(std::move(sub), false, options_.event_ping,
                                                       options_.org_event_pace),
                           std::move(request_id));
}

}  // namespace forkrun::http
