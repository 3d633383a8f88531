// GET /v1/runs/{id} (and its long-poll), and the cancel and release of a run this process holds.
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "controller/remote_runs.hpp"
#include "http/api.hpp"
#include "http/long_poll.hpp"
#include "http/request_body.hpp"
#include "http/run_json.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
using namespace forkrun::controller;

namespace {

// The most characters a cancel's reason may have.
constexpr std::size_t kMaxCancelReason = 500;

// Wakes a long-poll when its run's status changes.
class LongPollWaker : public StatusWatcher {
  public:
    LongPollWaker(asio::any_io_executor ex, std::weak_ptr<asio::steady_timer> timer)
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
        auto waker = std::make_shared<LongPollWaker>(ex, timer);
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
    co_return success(200, *run_json(*rec, RunView::kFull), std::move(request_id));
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
    if (!is_blank_body(req.body)) {
        if (!is_json_media_type(req.content_type)) {
            co_return error(415, "the body must be application/json", std::move(request_id));
        }
        FieldErrors errors;
        auto body = parse_json_body(req.body, errors);
        if (body) {
            if (!body->is_object()) {
                errors.push_back({"", "the body must be a JSON object"});
            } else {
                for (const auto& [k, v] : body->as_object()) {
                    if (k != "reason") {
                        errors.push_back({"/" + std::string(k), "unknown field"});
                    } else if (v.is_string()) {
                        if (v.get_string().size() > kMaxCancelReason) {
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
            co_return answer(409, *run_json(*result.record, RunView::kFull),
                             "run is already " + std::string(to_string(st)), std::move(request_id));
        }
        case CancelOutcome::kNotStored:
            co_return error(503,
                            "the run is cancelled, but the database has not stored it yet (it "
                            "will be written when the database is back)",
                            std::move(request_id));
        case CancelOutcome::kCancelled:
            break;
    }
    co_return success(200, *run_json(*result.record, RunView::kFull), std::move(request_id));
}

asio::awaitable<ApiResponse> Api::release_run(const ApiRequest& req,
                                              const TokenGrant& grant,
                                              std::string_view id,
                                              std::string request_id) {
    if (!controller_.find(grant.principal, id)) {
        co_return error(404, "no run " + std::string(id), std::move(request_id));
    }
    if (!is_blank_body(req.body)) {
        co_return bad_request({{"", "the release takes no body"}}, std::move(request_id));
    }
    auto result = co_await controller_.release(grant.principal, std::string(id));
    switch (result.outcome) {
        case ReleaseOutcome::kNotFound:
            co_return error(404, "no run " + std::string(id), std::move(request_id));
        case ReleaseOutcome::kNotKept: {
            const auto st = result.record->status();
            co_return answer(409, *run_json(*result.record, RunView::kFull),
                             is_terminal(st)
                                 ? "run is " + std::string(to_string(st)) + " and keeps no forks"
                                 : "run is " + std::string(to_string(st)) +
                                       ": its forks are kept only once it has "
                                       "failed",
                             std::move(request_id));
        }
        case ReleaseOutcome::kReleased:
            break;
    }
    co_return success(200, *run_json(*result.record, RunView::kFull), std::move(request_id));
}

}  // namespace forkrun::http
