// Holds and reaping of unconfigured chains' pools. Every timer operation happens under the
// mutex; a reaper acts only if its chain has had no hold since it was armed (its generation).
#include "forks/unconfigured_pools.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

namespace forkrun::forks {

namespace asio = boost::asio;

namespace {

std::string join(const std::vector<std::uint64_t>& ids) {
    std::string out;
    for (auto id : ids) {
        if (!out.empty()) {
            out += ", ";
        }
        out += std::to_string(id);
    }
    return out;
}

}  // namespace

PoolHold& PoolHold::operator=(PoolHold&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::move(other.owner_);
        chains_ = std::move(other.chains_);
    }
    return *this;
}

PoolHold::~PoolHold() {
    release();
}

void PoolHold::release() {
    if (owner_) {
        owner_->release(chains_);
        owner_.reset();
        chains_.clear();
    }
}

UnconfiguredPools::UnconfiguredPools(asio::any_io_executor ex,
                                     std::size_t max_chains,
                                     std::chrono::milliseconds idle,
                                     Factory make)
    : ex_(std::move(ex)), max_chains_(max_chains), idle_(idle), make_(std::move(make)) {}

boost::system::result<PoolHold, ForkError> UnconfiguredPools::hold(
    const std::vector<std::uint64_t>& chains) {
    std::vector<std::uint64_t> distinct = chains;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    PoolHold out;
    if (distinct.empty()) {
        return out;
    }
    const std::string allowance = "at most " + std::to_string(max_chains_) +
                                  " chains the configuration does not list may have a pool at "
                                  "once (maxUnconfiguredChains)";
    if (distinct.size() > max_chains_) {
        return ForkError{PoolErrc::kTooManyChains, "this run needs pools for " +
                                                       std::to_string(distinct.size()) +
                                                       " chains the configuration does not list (" +
                                                       join(distinct) + "); " + allowance};
    }
    std::lock_guard lock(mu_);
    if (closed_) {
        return ForkError{PoolErrc::kShutDown, "the server is stopping its pools"};
    }
    std::vector<std::uint64_t> fresh;
    for (auto c : distinct) {
        if (!entries_.contains(c)) {
            fresh.push_back(c);
        }
    }
    if (entries_.size() + fresh.size() > max_chains_) {
        std::vector<std::uint64_t> taken;
        for (const auto& [c, e] : entries_) {
            taken.push_back(c);
        }
        return ForkError{
            PoolErrc::kAllowanceTaken,
            "chain" + std::string(fresh.size() == 1 ? " " : "s ") + join(fresh) +
                (fresh.size() == 1 ? " is" : " are") + " not in the configuration, and chains " +
                join(taken) + " already have a pool; " + allowance +
                ". A pool no run has held for " + std::to_string(idle_.count()) + " ms is stopped"};
    }
    for (auto c : distinct) {
        Entry& e = entries_[c];
        ++e.holds;
        ++e.generation;
        if (e.reaper) {
            e.reaper->cancel();
            e.reaper.reset();
        }
    }
    out.owner_ = shared_from_this();
    out.chains_ = std::move(distinct);
    return out;
}

void UnconfiguredPools::release(const std::vector<std::uint64_t>& chains) {
    std::lock_guard lock(mu_);
    for (auto c : chains) {
        auto it = entries_.find(c);
        if (it == entries_.end() || closed_ || --it->second.holds > 0) {
            continue;
        }
        auto timer = std::make_shared<asio::steady_timer>(ex_, idle_);
        it->second.reaper = timer;
        // A weak owner: a reaper left in the queue never keeps the pools alive.
        timer->async_wait([weak = weak_from_this(), c, generation = it->second.generation](
                              const boost::system::error_code& ec) {
            auto self = weak.lock();
            if (ec || !self) {
                return;  // held again, closing, or gone
            }
            std::shared_ptr<ForkPool> pool;
            {
                std::lock_guard lock(self->mu_);
                auto found = self->entries_.find(c);
                if (self->closed_ || found == self->entries_.end() || found->second.holds > 0 ||
                    found->second.generation != generation) {
                    return;
                }
                pool = std::move(found->second.pool);
                self->entries_.erase(found);
            }
            if (pool) {
                asio::co_spawn(
                    self->ex_,
                    [](std::shared_ptr<ForkPool> p) -> asio::awaitable<void> {
                        co_await p->shutdown();
                    }(std::move(pool)),
                    asio::detached);
            }
        });
    }
}

std::shared_ptr<ForkPool> UnconfiguredPools::pool(std::uint64_t chain_id) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(chain_id);
    if (closed_ || it == entries_.end() || it->second.holds == 0) {
        return nullptr;
    }
    if (!it->second.pool) {
        it->second.pool = make_(chain_id);
    }
    return it->second.pool;
}

std::vector<std::shared_ptr<ForkPool>> UnconfiguredPools::close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    std::vector<std::shared_ptr<ForkPool>> out;
    for (auto& [c, e] : entries_) {
        if (e.reaper) {
            e.reaper->cancel();
        }
        if (e.pool) {
            out.push_back(std::move(e.pool));
        }
    }
    entries_.clear();
    return out;
}

std::size_t UnconfiguredPools::chains() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

}  // namespace forkrun::forks
