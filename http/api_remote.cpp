// GET (and its long-poll) and cancel of a run owned by another controller on the same durable
// store: read through the database on the store's threads, this coroutine awaiting the row; a
// watch woken by the store's NOTIFYs, with a poll as the fallback (decision 67).
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include "controller/idempotency_keys.hpp"
#include "controller/remote_runs.hpp"
#include "http/api.hpp"
#include "http/envelope.hpp"
#include "http/long_poll.hpp"
#include "http/remote_wake.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
using controller::RemoteRun;
using SteadyClock = std::chrono::steady_clock;

namespace {

// A cancel asked here waits at most this long for its owner (which answers within its
// teardown and commit bounds, or is taken over within its lease).
constexpr std::chrono::seconds kRemoteCancelWait{30};

ApiResponse unavailable(std::string request_id) {
    auto r = Api::error(503, "the database is unavailable; try again", std::move(request_id));
    r.headers.emplace_back("Retry-After", "1");
    return r;
}

bool terminal(const RemoteRun& r) {
    return r.status == "success" || r.status == "failure" || r.status == "cancelled";
}

// Whether the run has been running (waitUntil=running): a `waiting` run has too once any of its
// nodes has left `pending` (it waits at a wait node, or its row skipped `running` between two
// writes of the owner).
bool has_run(const RemoteRun& r) {
    if (r.status != "waiting") {
        return true;
    }
    boost::system::error_code ec;
    const auto doc = boost::json::parse(r.json, ec);
    const auto* nodes = ec ? nullptr : doc.find_pointer("/executionState/nodes", ec);
    if (!nodes || !nodes->is_object()) {
        return false;
    }
    for (const auto& [id, n] : nodes->get_object()) {
        const auto* st = n.is_object() ? n.get_object().if_contains("status") : nullptr;
        if (st && st->is_string() && st->get_string() != "pending") {
            return true;
        }
    }
    return false;
}

}  // namespace

asio::awaitable<ApiResponse> Api::get_remote_run(const TokenGrant& grant,
                                                 std::string_view id,
                                                 const LongPoll& poll,
                                                 std::string request_id) {
    auto& remote = *options_.remote;
    const std::string run_id(id);
    auto ex = co_await asio::this_coro::executor;
    auto wake = std::make_shared<Wake>();
    wake->timer = std::make_shared<asio::steady_timer>(ex);
    std::shared_ptr<void> watch;
    if (poll.want_terminal) {
        watch = remote.watch(run_id, waker(ex, wake));
    }
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(poll.timeout_ms);
    for (;;) {
        boost::system::error_code ec;
        auto row = co_await remote.async_read(run_id, grant.principal.organization_id,
                                              asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return unavailable(std::move(request_id));
        }
        if (!row.found) {
            co_return error(404, "no run " + run_id, std::move(request_id));
        }
        const bool reached =
            !poll.want_terminal || terminal(row) || (!*poll.want_terminal && has_run(row));
        if (reached || SteadyClock::now() >= deadline) {
            co_return answer(200, row.json, "success", std::move(request_id));
        }
        co_await wait_a_while(*wake, remote.poll_interval(), deadline);
    }
}

asio::awaitable<ApiResponse> Api::cancel_remote_run(const TokenGrant& grant,
                                                    std::string_view id,
                                                    std::optional<std::string> reason,
                                                    std::string request_id) {
    auto& remote = *options_.remote;
    const std::string run_id(id);
    const auto& who = grant.principal;
    auto ex = co_await asio::this_coro::executor;
    auto wake = std::make_shared<Wake>();
    wake->timer = std::make_shared<asio::steady_timer>(ex);
    // Watching before asking: the owner's answer cannot come before the watch.
    auto watch = remote.watch(run_id, waker(ex, wake));
    boost::system::error_code ec;
    auto row = co_await remote.async_request_cancel(run_id, who.organization_id, who.subject,
                                                    std::move(reason),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        co_return unavailable(std::move(request_id));
    }
    if (!row.found) {
        co_return error(404, "no run " + run_id, std::move(request_id));
    }
    if (!row.recorded && !terminal(row) && !row.cancel_requested) {
        // It ended while this cancel waited for its row: answered as it is now.
        row = co_await remote.async_read(run_id, who.organization_id,
                                         asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !row.found) {
            co_return unavailable(std::move(request_id));
        }
    }
    if (!row.recorded) {
        co_return answer(
            409, row.json,
            terminal(row) ? "run is already " + row.status : "run is already being cancelled",
            std::move(request_id));
    }
    // The owner tears the forks down, commits the final state, then answers in the row.
    const auto deadline = SteadyClock::now() + kRemoteCancelWait;
    while (SteadyClock::now() < deadline) {
        co_await wait_a_while(*wake, remote.poll_interval(), deadline);
        row = co_await remote.async_read(run_id, who.organization_id,
                                         asio::redirect_error(asio::use_awaitable, ec));
        if (ec || row.cancel_result.empty()) {
            continue;  // the database away, or no answer yet
        }
        if (row.cancel_result == "unstored") {
            co_return error(503,
                            "the run is cancelled, but the database has not stored it yet (it "
                            "will be written when the database is back)",
                            std::move(request_id));
        }
        if (!terminal(row)) {
            continue;  // ending anyway: answered once it has ended
        }
        if (row.cancel_result == "cancelled") {
            co_return answer(200, row.json, "success", std::move(request_id));
        }
        co_return answer(409, row.json, "run is already " + row.status, std::move(request_id));
    }
    co_return error(503,
                    "the controller that owns run " + run_id +
                        " did not answer the cancel in time; it is recorded and will be carried "
                        "out (or the run finished as controllerLost)",
                    std::move(request_id));
}

asio::awaitable<ApiResponse> Api::replay_remote(const controller::IdempotencyClaim& claim,
                                                const TokenGrant& grant,
                                                std::string_view key,
                                                std::string request_id) {
    boost::system::error_code ec;
    auto row = co_await options_.remote->async_read(claim.run_id, grant.principal.organization_id,
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        co_return unavailable(std::move(request_id));
    }
    if (!row.found) {
        co_return error(409,
                        "the run " + claim.run_id + " that Idempotency-Key " + json_quote(key) +
                            " created is no longer stored; send a new key for a new run",
                        std::move(request_id));
    }
    auto r = answer(claim.status, row.json, "success", std::move(request_id));
    r.headers.emplace_back("Location", "/v1/runs/" + claim.run_id);
    r.headers.emplace_back("Idempotent-Replayed", "true");
    co_return r;
}

}  // namespace forkrun::http
