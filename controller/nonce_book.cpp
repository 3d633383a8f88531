// NonceBook: a mutex over a map of counts; the chain is read outside the lock.
#include "controller/nonce_book.hpp"

#include <algorithm>

namespace forkrun::controller {

namespace asio = boost::asio;

std::uint64_t NonceBook::take(Entry& e) {
    ++e.outstanding;
    if (!e.returned.empty()) {
        const auto n = *e.returned.begin();
        e.returned.erase(e.returned.begin());
        return n;
    }
    return (*e.next)++;
}

asio::awaitable<NonceResult> NonceBook::allocate(const NonceKey& key, PendingCount pending) {
    {
        std::lock_guard lock(mu_);
        auto it = entries_.find(key);
        if (it != entries_.end() && it->second.next && !it->second.stale) {
            co_return take(it->second);
        }
    }
    auto count = co_await pending();
    if (!count) {
        co_return count.error();
    }
    std::lock_guard lock(mu_);
    auto& e = entries_[key];
    // Below the chain's count every nonce is used, whoever sent it.
    e.next = std::max(e.next.value_or(0), *count);
    e.returned.erase(e.returned.begin(), e.returned.lower_bound(*count));
    e.stale = false;
    co_return take(e);
}

void NonceBook::settle(const NonceKey& key, std::uint64_t nonce, NonceOutcome outcome) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        return;
    }
    auto& e = it->second;
    if (e.outstanding > 0) {
        --e.outstanding;
    }
    switch (outcome) {
        case NonceOutcome::kSent:
            break;
        case NonceOutcome::kUnsent:
            if (e.next && nonce < *e.next) {
                e.returned.insert(nonce);
            }
            break;
        case NonceOutcome::kStale:
            e.stale = true;
            break;
    }
    if (forget_when_idle_ && e.outstanding == 0) {
        entries_.erase(it);
    }
}

std::size_t NonceBook::size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

}  // namespace forkrun::controller
