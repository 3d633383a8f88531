// PgIdempotencyKeys: a claim is one INSERT ... ON CONFLICT that takes a key when it is new,
// expired (24 h) or abandoned (claimed over a minute ago and never completed, e.g. by a
// controller that died); otherwise the row says replay, mismatch, or wait and ask again.
#include "controller/pg_idempotency.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "controller/pg_remote.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
using Outcome = IdempotencyClaim::Outcome;

namespace {

// How often a request whose key another request holds asks again.
constexpr auto kHeldPoll = std::chrono::milliseconds(50);

constexpr std::string_view kClaim = R"sql(
WITH c AS (
    INSERT INTO idempotency_keys (organization_id, key, digest, claimed_at, claimed_by)
    VALUES ($1, $2, $3, now(), $4)
    ON CONFLICT (organization_id, key) DO UPDATE
        SET digest = EXCLUDED.digest, claimed_at = now(), claimed_by = EXCLUDED.claimed_by,
            run_id = NULL, status = NULL
        WHERE idempotency_keys.claimed_at < now() - interval '24 hours'
           OR (idempotency_keys.run_id IS NULL
               AND idempotency_keys.claimed_at < now() - interval '60 seconds')
    RETURNING 1)
SELECT 'claimed', '', '', '0' FROM c
UNION ALL
SELECT 'held', digest, coalesce(run_id, ''), coalesce(status, 0)::text FROM idempotency_keys
    WHERE organization_id = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM c)
)sql";

// The body's digest is raw bytes; a text column wants it as hex.
std::string hex_of(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 0xf];
    }
    return out;
}

}  // namespace

PgIdempotencyKeys::PgIdempotencyKeys(PgRemote& db, std::string controller_id)
    : db_(db), controller_id_(std::move(controller_id)) {}

asio::awaitable<IdempotencyClaim> PgIdempotencyKeys::claim(std::string organization_id,
                                                           std::string key,
                                                           std::string digest,
                                                           std::chrono::milliseconds wait) {
    digest = hex_of(digest);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    IdempotencyClaim answer;
    for (;;) {
        boost::system::error_code ec;
        // (The parameters built outside the co_await: GCC 12 cannot keep an initializer list
        // alive across a suspension.)
        std::vector<std::string> params{organization_id, key, digest, controller_id_};
        auto rows = co_await db_.async_query(std::string(kClaim), std::move(params),
                                             asio::redirect_error(asio::use_awaitable, ec));
        if (!ec && !rows.empty() && rows[0].size() == 4) {
            const auto& row = rows[0];
            if (row[0] == "claimed") {
                std::lock_guard lock(mu_);
                answer.outcome = Outcome::kClaimed;
                answer.ticket = next_ticket_++;
                claims_.emplace(answer.ticket, std::make_pair(organization_id, key));
                co_return answer;
            }
            if (row[1] != digest) {
                answer.outcome = Outcome::kMismatch;
                answer.run_id = row[2];
                co_return answer;
            }
            if (!row[2].empty()) {
                answer.outcome = Outcome::kReplay;
                answer.run_id = row[2];
                answer.status = static_cast<unsigned>(std::stoul(row[3]));
                co_return answer;
            }
        }
        // Held by a request still being processed (or the database away, or a claim racing
        // this one): ask again until the wait is over.
        if (std::chrono::steady_clock::now() + kHeldPoll >= deadline) {
            answer.outcome = Outcome::kInProgress;
            co_return answer;
        }
        timer.expires_after(kHeldPoll);
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

void PgIdempotencyKeys::complete(std::uint64_t ticket, std::string run_id, unsigned status) {
    forget(ticket,
           "UPDATE idempotency_keys SET run_id = $3, status = $4::integer WHERE organization_id "
           "= $1 AND key = $2",
           {std::move(run_id), std::to_string(status)});
}

void PgIdempotencyKeys::release(std::uint64_t ticket) {
    forget(ticket,
           "DELETE FROM idempotency_keys WHERE organization_id = $1 AND key = $2 AND run_id IS "
           "NULL",
           {});
}

void PgIdempotencyKeys::forget(std::uint64_t ticket,
                               std::string sql,
                               std::vector<std::string> more) {
    std::vector<std::string> params;
    {
        std::lock_guard lock(mu_);
        auto it = claims_.find(ticket);
        if (it == claims_.end()) {
            return;
        }
        params = {std::move(it->second.first), std::move(it->second.second)};
        claims_.erase(it);
    }
    params.insert(params.end(), more.begin(), more.end());
    // Nobody waits for it: a later claim reads the row as it is.
    db_.query(std::move(sql), std::move(params), [](boost::system::error_code, PgRemote::Rows) {});
}

}  // namespace forkrun::controller
