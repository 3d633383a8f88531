// Fork spawning and teardown. A fork is ready only once eth_chainId answers through the same
// client that nodes use, so "ready" means "usable".
#include "forks/fork_manager.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace forkrun::forks {

namespace asio = boost::asio;

namespace {

// Warm forks of a pool made for a chain the configuration does not list.
constexpr std::size_t kUnconfiguredPoolSize = 2;

// Anvils a fork may take to come up: one that is not ready in time is replaced once.
constexpr std::uint32_t kForkStartAttempts = 2;

}  // namespace

ForkManager::ForkManager(asio::any_io_executor ex, ForksConfig config, CuTable cu)
    : ex_(std::move(ex)),
      config_(std::move(config)),
      cu_(std::move(cu)),
      spawn_limiter_(std::make_shared<util::Limiter>(
          config_.fork_spawn_limit != 0 ? config_.fork_spawn_limit : default_spawn_limit())),
      unconfigured_(std::make_shared<UnconfiguredPools>(ex_,
                                                        config_.max_unconfigured_chains,
                                                        config_.unconfigured_pool_idle,
                                                        [this](std::uint64_t chain_id) {
                                                            auto pool = std::make_shared<ForkPool>(
                                                                ex_, rpc_, spec_for(chain_id),
                                                                kUnconfiguredPoolSize);
                                                            pool->start();
                                                            return pool;
                                                        })) {}

ForkManager::~ForkManager() {
    for (auto& d : devnets_) {
        d->kill_now();
    }
}

std::optional<std::string> ForkManager::upstream(std::uint64_t chain_id) const {
    auto it = config_.chains.find(chain_id);
    if (it == config_.chains.end()) {
        return std::nullopt;
    }
    return it->second.upstream_rpc_url;
}

ForkSpec ForkManager::spec_for(std::uint64_t chain_id) const {
    ForkSpec spec;
    spec.anvil_path = config_.anvil_path;
    spec.chain_id = chain_id;
    spec.upstream_url = upstream(chain_id);
    spec.ready_timeout = config_.fork_start_timeout;
    spec.spawn_limiter = spawn_limiter_;
    return spec;
}

asio::awaitable<boost::system::result<void, ForkError>> ForkManager::start() {
    for (auto chain : config_.devnet) {
        AnvilOptions o;
        o.anvil_path = config_.anvil_path;
        o.chain_id = chain;
        o.start_timeout = config_.fork_start_timeout;
        o.spawn_limiter = spawn_limiter_;
        auto p = co_await AnvilProcess::spawn(o);
        if (!p) {
            co_return ForkError{ForkErrc::kDevnetFailed,
                                "devnet chain " + std::to_string(chain) + ": " + p.error().message};
        }
        auto& c = config_.chains[chain];
        c.upstream_rpc_url = (*p)->url();
        devnets_.push_back(std::move(*p));
    }
    for (const auto& [id, c] : config_.chains) {
        if (c.pool_size > 0) {
            pool_for(id);
        }
        if (!c.pinned_pools.empty() && !c.upstream_rpc_url) {
            co_return ForkError{
                ForkErrc::kNoUpstream,
                "chain " + std::to_string(id) +
                    ": pinnedPools needs an upstream to fork (upstreamRpcUrl or devnet)"};
        }
        for (const auto& [block, size] : c.pinned_pools) {
            auto spec = spec_for(id);
            spec.fork_block = block;
            auto pool = std::make_shared<ForkPool>(ex_, rpc_, std::move(spec), size);
            pool->start();
            pinned_pools_.emplace(std::pair(id, block), std::move(pool));
        }
        if (const auto n = config_.spawn_ahead_of(id); n > 0) {
            auto ahead = std::make_shared<SpawnAhead>(ex_, n, config_.spawn_ahead_max_age,
                                                      [this, id] { return start_ahead(id); });
            ahead->start();
            ahead_.emplace(id, std::move(ahead));
        }
    }
    // Named: GCC 12 with the sanitizers warns falsely (-Wmaybe-uninitialized) on a temporary
    // result<void, ForkError> in a co_return.
    boost::system::result<void, ForkError> started;
    co_return started;
}

std::shared_ptr<ForkPool> ForkManager::pool_for(std::uint64_t chain_id) {
    if (!config_.chains.contains(chain_id)) {
        return unconfigured_->pool(chain_id);  // the caller holds it (lease_fork)
    }
    std::lock_guard lock(pools_mu_);
    auto it = pools_.find(chain_id);
    if (it != pools_.end()) {
        return it->second;
    }
    auto cfg = config_.chains.find(chain_id);
    const std::size_t size = cfg != config_.chains.end() ? cfg->second.pool_size : 2;
    if (size == 0) {
        return nullptr;
    }
    auto pool = std::make_shared<ForkPool>(ex_, rpc_, spec_for(chain_id), size);
    pool->start();
    pools_.emplace(chain_id, pool);
    return pool;
}

std::shared_ptr<ForkPool> ForkManager::pinned_pool(std::uint64_t chain_id, std::uint64_t block) {
    auto it = pinned_pools_.find(std::pair(chain_id, block));
    return it == pinned_pools_.end() ? nullptr : it->second;
}

asio::awaitable<boost::system::result<ForkHandle, ForkError>> ForkManager::open_fork(
    std::uint64_t chain_id,
    MethodMeter meter,
    std::uint32_t* attempts,
    std::optional<std::uint64_t> block) {
    if (auto it = ahead_.find(chain_id); it != ahead_.end() && !block) {
        auto taken = co_await take_ahead(*it->second, chain_id, meter, attempts);
        if (taken) {
            co_return std::move(*taken);
        }
    }
    const auto ex = co_await asio::this_coro::executor;
    // The caller's cancellation reaches start_fork through co_spawn.
    co_return co_await asio::co_spawn(ex, start_fork(chain_id, std::move(meter), attempts, block),
                                      asio::use_awaitable);
}

asio::awaitable<std::optional<ForkHandle>> ForkManager::take_ahead(SpawnAhead& ahead,
                                                                   std::uint64_t chain_id,
                                                                   const MethodMeter& meter,
                                                                   std::uint32_t* attempts) {
    auto taken = co_await ahead.take();
    if (!taken) {
        co_return std::nullopt;
    }
    ForkHandle h;
    h.chain_id = chain_id;
    h.process = std::move(taken->process);
    h.url = h.process->url();
    h.start_attempts = taken->start_attempts;
    h.spawned_ahead = true;
    if (attempts) {
        *attempts = h.start_attempts;
    }
    // The eth_chainId that showed it ready, as a fork started for the run pays it.
    meter("eth_chainId");
    co_return h;
}

asio::awaitable<boost::system::result<SpawnedFork, ForkError>> ForkManager::start_ahead(
    std::uint64_t chain_id) {
    const auto ex = co_await asio::this_coro::executor;
    // Named: GCC 12 destroys a temporary inside co_await twice. Nobody pays for its readiness
    // call until a run takes the fork (take_ahead).
    MethodMeter unmetered = [](std::string_view) {};
    auto starting = start_fork(chain_id, std::move(unmetered), nullptr, std::nullopt,
                               util::Limiter::Priority::kBackground);
    auto h = co_await asio::co_spawn(ex, std::move(starting), asio::use_awaitable);
    if (!h) {
        co_return h.error();
    }
    SpawnedFork f;
    f.process = std::move(h->process);
    f.start_attempts = h->start_attempts;
    co_return f;
}

SpawnAheadTotals ForkManager::spawn_ahead_totals() const {
    SpawnAheadTotals t;
    for (const auto& [id, ahead] : ahead_) {
        const auto& c = ahead->counts();
        t.ready += c.ready.load();
        t.taken += c.taken.load();
        t.missed += c.missed.load();
        t.aged += c.aged.load();
        t.died += c.died.load();
    }
    return t;
}

asio::awaitable<boost::system::result<ForkHandle, ForkError>> ForkManager::start_fork(
    std::uint64_t chain_id,
    MethodMeter meter,
    std::uint32_t* attempts,
    std::optional<std::uint64_t> block,
    util::Limiter::Priority priority) {
    // A cancel ends the wait for the fork's answer but must not stop us from stopping it: that
    // is awaited here (reaped without blocking the thread), not left to a destructor.
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto cancellation = co_await asio::this_coro::cancellation_state;
    std::string first_message;
    for (std::uint32_t attempt = 1;; ++attempt) {
        if (attempts) {
            *attempts = attempt;
        }
        bool retry = false;
        auto h = co_await start_once(chain_id, meter, block, priority, retry);
        if (h) {
            h->start_attempts = attempt;
            co_return h;
        }
        if (!retry || attempt == kForkStartAttempts ||
            cancellation.cancelled() != asio::cancellation_type::none) {
            if (attempt > 1) {
                h.error().message += " (attempt " + std::to_string(attempt) + " of " +
                                     std::to_string(kForkStartAttempts) +
                                     "; the first: " + first_message + ")";
            }
            co_return h.error();
        }
        first_message = std::move(h.error().message);
    }
}

asio::awaitable<boost::system::result<ForkHandle, ForkError>> ForkManager::start_once(
    std::uint64_t chain_id,
    const MethodMeter& meter,
    std::optional<std::uint64_t> block,
    util::Limiter::Priority priority,
    bool& retry) {
    const auto cancellation = co_await asio::this_coro::cancellation_state;
    const std::string label =
        "chain " + std::to_string(chain_id) + (block ? " at block " + std::to_string(*block) : "");
    AnvilOptions o;
    o.anvil_path = config_.anvil_path;
    o.chain_id = chain_id;
    o.fork_url = upstream(chain_id);
    if (block && !o.fork_url) {
        co_return ForkError{ForkErrc::kNoUpstream,
                            label + ": the chain has no upstream to fork at a block"};
    }
    o.fork_block = block;
    o.start_timeout = config_.fork_start_timeout;
    o.spawn_limiter = spawn_limiter_;
    o.spawn_priority = priority;
    auto spawned = co_await AnvilProcess::spawn(o);
    if (!spawned) {
        // A missing binary or a cancel will not go better a second time.
        const auto code = spawned.error().code;
        retry = code == AnvilErrc::kExitedEarly || code == AnvilErrc::kStartTimeout ||
                code == AnvilErrc::kBadOutput;
        co_return ForkError{
            code == AnvilErrc::kCancelled ? ForkErrc::kCancelled : ForkErrc::kSpawnFailed,
            label + ": the fork did not start: " + spawned.error().message};
    }
    ForkHandle h;
    h.chain_id = chain_id;
    h.process = std::move(*spawned);
    h.url = h.process->url();
    if (cancellation.cancelled() != asio::cancellation_type::none) {
        co_await h.process->stop(std::chrono::milliseconds(500));
        co_return ForkError{ForkErrc::kCancelled,
                            label + ": opening the fork was cancelled; it was stopped"};
    }
    meter("eth_chainId");
    // A named request: GCC 12 destroys brace-initialized temporaries in co_await twice.
    RpcRequest req{h.url, "eth_chainId", {}, config_.fork_start_timeout, label};
    auto ready = co_await async_call(rpc_, std::move(req), asio::use_awaitable);
    if (!ready) {
        auto why = ready.error().message;
        co_await h.process->stop(std::chrono::milliseconds(500));
        retry = ready.error().code != RpcErrc::kAborted;
        co_return ForkError{retry ? ForkErrc::kNotReady : ForkErrc::kCancelled,
                            label + ": the fork did not answer: " + why};
    }
    co_return h;
}

asio::awaitable<boost::system::result<ForkHandle, ForkError>> ForkManager::lease_fork(
    std::uint64_t chain_id,
    MethodMeter meter,
    QueueWatch queue,
    std::optional<std::uint64_t> block) {
    std::shared_ptr<ForkPool> pool;
    PoolHold hold;
    if (block) {
        pool = pinned_pool(chain_id, *block);
        if (!pool) {
            // No warm pool at that block: a fork of the lease's own, destroyed at its release.
            co_return co_await open_fork(chain_id, std::move(meter), nullptr, block);
        }
    } else {
        auto held = hold_pools({chain_id});
        if (!held) {
            co_return ForkError{ForkErrc::kPoolRefused,
                                "chain " + std::to_string(chain_id) + ": " + held.error().message};
        }
        hold = std::move(*held);
        pool = pool_for(chain_id);
        if (!pool) {
            co_return ForkError{ForkErrc::kNoPool, "chain " + std::to_string(chain_id) +
                                                       " has no warm pool (poolSize is 0)"};
        }
    }
    auto lease = co_await pool->acquire(config_.lease_timeout, meter, std::move(queue));
    if (!lease) {
        co_return lease.error();
    }
    ForkHandle h;
    h.chain_id = chain_id;
    h.pool = std::move(pool);
    h.lease = std::move(*lease);
    h.url = h.lease.url;
    h.hold = std::move(hold);
    co_return h;
}

boost::system::result<PoolHold, ForkError> ForkManager::hold_pools(
    const std::vector<std::uint64_t>& chains) {
    std::vector<std::uint64_t> unlisted;
    for (auto c : chains) {
        if (!config_.chains.contains(c)) {
            unlisted.push_back(c);
        }
    }
    return unconfigured_->hold(unlisted);
}

asio::awaitable<ForkRelease> ForkManager::release(std::shared_ptr<ForkHandle> fork,
                                                  MethodMeter meter,
                                                  bool reusable) {
    ForkRelease out;
    if (fork->process) {
        auto r = co_await fork->process->stop(std::chrono::milliseconds(2000));
        out.method = r.killed ? TeardownMethod::kSigkill : TeardownMethod::kSigterm;
        out.code = r.code;
        if (!r.ok()) {
            out.message = std::move(r.message);
        } else if (r.already_exited) {
            out.message = "the fork had already ended before its teardown: it " + r.status;
        }
    } else if (fork->pool) {
        auto r = co_await fork->pool->release(fork->lease, meter, reusable);
        out.method = r.method;
        out.code = r.code;
        out.message = std::move(r.message);
        fork->hold.release();
    }
    co_return out;
}

asio::awaitable<void> ForkManager::shutdown() {
    spawn_limiter_->close();
    for (auto& [id, ahead] : ahead_) {
        co_await ahead->shutdown();
    }
    std::vector<std::shared_ptr<ForkPool>> pools;
    {
        std::lock_guard lock(pools_mu_);
        for (auto& [id, p] : pools_) {
            pools.push_back(p);
        }
    }
    for (auto& [key, p] : pinned_pools_) {
        pools.push_back(p);
    }
    for (auto& p : unconfigured_->close()) {
        pools.push_back(std::move(p));
    }
    for (auto& p : pools) {
        co_await p->shutdown();
    }
    for (auto& d : devnets_) {
        co_await d->stop(std::chrono::milliseconds(1000));
    }
}

}  // namespace forkrun::forks
