// POST /v1/runs: the body checked and decoded, an Idempotency-Key claimed (a repeat answered
// with the first run), quotas taken, the run stored (committed first with a durable store) and
// answered 201 before any node runs.
#include <boost/asio/this_coro.hpp>

#include "controller/remote_runs.hpp"
#include "http/api.hpp"
#include "http/envelope.hpp"
#include "http/idempotency.hpp"
#include "http/request_body.hpp"
#include "http/run_json.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
using namespace forkrun::controller;

namespace {

// How long a repeat waits for the first request with its Idempotency-Key before a 409.
constexpr std::chrono::seconds kIdempotencyWait{10};

// A create over a quota: 429, the limit named, and when to try again.
ApiResponse quota_refused(const QuotaRefusal& quota, std::string request_id) {
    auto r = Api::error(429, quota.message, std::move(request_id));
    r.headers.emplace_back("Retry-After", std::to_string(quota.retry_after.count()));
    return r;
}

}  // namespace

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
    auto body = parse_json_body(req.body, errors);
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
    auto r = success(201, *run_json(*rec, RunView::kFull), std::move(request_id));
    r.headers.emplace_back("Location", std::string(kRunsPath) + "/" + rec->id());
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
    auto r = success(claim.status, *run_json(*rec, RunView::kFull), std::move(request_id));
    r.headers.emplace_back("Location", std::string(kRunsPath) + "/" + rec->id());
    r.headers.emplace_back("Idempotent-Replayed", "true");
    return r;
}

}  // namespace forkrun::http
