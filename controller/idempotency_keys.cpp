// The in-memory idempotency-key table: one map per organization, keys in claim order for expiry.
#include "controller/idempotency_keys.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace forkrun::controller {

namespace asio = boost::asio;
using Outcome = IdempotencyClaim::Outcome;

MemoryIdempotencyKeys::MemoryIdempotencyKeys(std::size_t max_keys_per_org, Now now)
    : max_keys_per_org_(std::max<std::size_t>(1, max_keys_per_org)), now_(std::move(now)) {}

std::chrono::steady_clock::time_point MemoryIdempotencyKeys::now() const {
    return now_ ? now_() : std::chrono::steady_clock::now();
}

std::size_t MemoryIdempotencyKeys::size() const {
    std::lock_guard lock(mu_);
    return org_of_ticket_.size();
}

void MemoryIdempotencyKeys::wake(std::vector<Waiter>& waiters) {
    for (auto& w : waiters) {
        asio::post(w.ex, [t = w.timer] {
            if (auto timer = t.lock()) {
                timer->cancel();
            }
        });
    }
    waiters.clear();
}

MemoryIdempotencyKeys::Entry* MemoryIdempotencyKeys::entry_locked(std::uint64_t ticket) {
    const auto o = org_of_ticket_.find(ticket);
    const auto org = o == org_of_ticket_.end() ? orgs_.end() : orgs_.find(o->second);
    if (org == orgs_.end()) {
        return nullptr;
    }
    const auto e = org->second.by_ticket.find(ticket);
    return e == org->second.by_ticket.end() ? nullptr : &e->second;
}

void MemoryIdempotencyKeys::erase_locked(std::uint64_t ticket) {
    if (Entry* e = entry_locked(ticket)) {
        wake(e->waiters);
        const std::string org_id = e->organization_id;
        auto& org = orgs_.at(org_id);
        org.by_key.erase(e->key);
        org.by_ticket.erase(ticket);
        if (org.by_ticket.empty()) {
            orgs_.erase(org_id);
        }
    }
    org_of_ticket_.erase(ticket);
}

void MemoryIdempotencyKeys::trim_locked(Org& org) {
    const auto expired_before = now() - kTtl;
    std::vector<std::uint64_t> drop;
    for (const auto& [ticket, e] : org.by_ticket) {
        if (e.claimed_at > expired_before) {
            break;  // claim order: the rest are younger
        }
        drop.push_back(ticket);
    }
    // Past the cap, the oldest completed keys go first; a key still being processed stays (they
    // are as many as the requests in flight).
    std::size_t held = org.by_ticket.size() - drop.size();
    for (auto it = org.by_ticket.begin(); held >= max_keys_per_org_ && it != org.by_ticket.end();
         ++it) {
        if (it->second.done && it->second.claimed_at > expired_before) {
            drop.push_back(it->first);
            --held;
        }
    }
    for (const auto ticket : drop) {
        erase_locked(ticket);
    }
}

std::optional<IdempotencyClaim> MemoryIdempotencyKeys::try_claim_locked(
    const std::string& organization_id,
    const std::string& key,
    const std::string& digest,
    const Waiter* waiter) {
    auto& org = orgs_[organization_id];
    if (const auto k = org.by_key.find(key); k != org.by_key.end()) {
        const std::uint64_t ticket = k->second;
        auto& e = org.by_ticket.at(ticket);
        if (e.claimed_at + kTtl <= now()) {
            erase_locked(ticket);
            return try_claim_locked(organization_id, key, digest, waiter);
        }
        if (e.digest != digest) {
            return IdempotencyClaim{Outcome::kMismatch, e.run_id, e.status, 0};
        }
        if (e.done) {
            return IdempotencyClaim{Outcome::kReplay, e.run_id, e.status, 0};
        }
        if (waiter) {
            e.waiters.push_back(*waiter);
        }
        return std::nullopt;
    }
    trim_locked(org);
    auto& table = orgs_[organization_id];  // trimming may have dropped an emptied org
    const std::uint64_t ticket = next_ticket_++;
    Entry e;
    e.organization_id = organization_id;
    e.key = key;
    e.digest = digest;
    e.claimed_at = now();
    table.by_ticket.emplace(ticket, std::move(e));
    table.by_key.emplace(key, ticket);
    org_of_ticket_.emplace(ticket, organization_id);
    return IdempotencyClaim{Outcome::kClaimed, {}, 0, ticket};
}

asio::awaitable<IdempotencyClaim> MemoryIdempotencyKeys::claim(std::string organization_id,
                                                               std::string key,
                                                               std::string digest,
                                                               std::chrono::milliseconds wait) {
    const auto ex = co_await asio::this_coro::executor;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    std::shared_ptr<asio::steady_timer> timer;
    for (;;) {
        if (!timer) {
            timer = std::make_shared<asio::steady_timer>(ex);
        }
        const Waiter waiter{ex, timer};
        const bool may_wait = std::chrono::steady_clock::now() < deadline;
        {
            std::lock_guard lock(mu_);
            if (auto answer =
                    try_claim_locked(organization_id, key, digest, may_wait ? &waiter : nullptr)) {
                co_return *answer;
            }
        }
        if (!may_wait) {
            co_return IdempotencyClaim{Outcome::kInProgress, {}, 0, 0};
        }
        // The holder's complete() or release() cancels the timer; the deadline ends the wait.
        timer->expires_at(deadline);
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        timer.reset();  // a fresh timer per round: a late wake-up of this one cancels nothing
    }
}

void MemoryIdempotencyKeys::complete(std::uint64_t ticket, std::string run_id, unsigned status) {
    std::lock_guard lock(mu_);
    if (Entry* e = entry_locked(ticket)) {
        e->done = true;
        e->run_id = std::move(run_id);
        e->status = status;
        wake(e->waiters);
    }
}

void MemoryIdempotencyKeys::release(std::uint64_t ticket) {
    std::lock_guard lock(mu_);
    erase_locked(ticket);
}

}  // namespace forkrun::controller
