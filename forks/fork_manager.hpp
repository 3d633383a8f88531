// Owns everything a server needs to give runs forks: the JSON-RPC client, the CU table, devnet
// upstreams, per-chain warm pools, and the spawning and teardown of per-run forks.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "forks/anvil_process.hpp"
#include "forks/cu_table.hpp"
#include "forks/fork_error.hpp"
#include "forks/fork_pool.hpp"
#include "forks/forks_config.hpp"
#include "forks/rpc_client.hpp"
#include "forks/spawn_ahead.hpp"
#include "forks/unconfigured_pools.hpp"
#include "util/limiter.hpp"

namespace forkrun::forks {

/// One fork a run holds: its own anvil (`fork` mode) or a lease on a pooled one (`pool` mode).
struct ForkHandle {
    std::uint64_t chain_id = 0;
    std::string url;  // the fork's own JSON-RPC endpoint; never handed out
    std::unique_ptr<AnvilProcess> process;
    std::shared_ptr<ForkPool> pool;
    PoolLease lease;
    PoolHold hold;  // an unconfigured chain's pool stays up while it is leased
    /// Anvils started for a `fork` mode fork: 2 when the first did not become ready.
    std::uint32_t start_attempts = 0;
    /// A `fork` mode fork that was started ahead of the run (spawnAhead), not for it.
    bool spawned_ahead = false;
};

/// SpawnAheadCounts summed over the chains, read once.
struct SpawnAheadTotals {
    std::size_t ready = 0;
    std::uint64_t taken = 0;
    std::uint64_t missed = 0;
    std::uint64_t aged = 0;
    std::uint64_t died = 0;
};

/// The outcome of ForkManager::release().
struct ForkRelease {
    TeardownMethod method = TeardownMethod::kSigterm;  ///< How it was torn down.
    /// None: the fork is gone (fork mode) or back in its pool, or destroyed as asked. Else an
    /// AnvilErrc (the process could not be reaped) or a PoolErrc (PoolRelease::code).
    std::error_code code;
    /// Why not ok(), for the run's teardown; when ok(), empty or a note a user should see (the
    /// fork had already ended before its teardown).
    std::string message;

    bool ok() const noexcept { return !code; }
};

class ForkManager {
  public:
    /// `ex` must be run by a thread that lives as long as the process (forks die with the
    /// thread that spawned them).
    ForkManager(boost::asio::any_io_executor ex, ForksConfig config, CuTable cu);
    ~ForkManager();

    /// Starts the devnet upstreams and fills the pools. Errors (kDevnetFailed, kNoUpstream) name
    /// the chain.
    boost::asio::awaitable<boost::system::result<void, ForkError>> start();

    /// A new anvil for `chain_id`, ready when eth_chainId answers (metered through `meter`),
    /// forking the upstream at `block` when given. One that exits, times out or does not answer
    /// before it is ready is killed and started again once (ForkHandle::start_attempts);
    /// `attempts`, when given, counts them even when both fail. Without `block`, a chain with
    /// spawnAhead hands over one of the forks it started ahead, if one is ready (its
    /// eth_chainId still metered), and starts its replacement. Errors are ForkErrc.
    boost::asio::awaitable<boost::system::result<ForkHandle, ForkError>> open_fork(
        std::uint64_t chain_id,
        MethodMeter meter,
        std::uint32_t* attempts = nullptr,
        std::optional<std::uint64_t> block = std::nullopt);

    /// A lease on a warm fork of `chain_id` (waits up to the lease timeout). With `block`, a
    /// lease from the pool pinned at that block (ChainConfig::pinned_pools) or, when the
    /// configuration warms none, a fresh fork at that block that release() destroys. Errors are
    /// ForkErrc (kNoPool, kPoolRefused, or open_fork's) or the pool's PoolErrc.
    boost::asio::awaitable<boost::system::result<ForkHandle, ForkError>> lease_fork(
        std::uint64_t chain_id,
        MethodMeter meter,
        QueueWatch queue = {},
        std::optional<std::uint64_t> block = std::nullopt);

    /// Holds, for a `pool` run about to be created, the pools of those of `chains` that the
    /// configuration does not list (at most ForksConfig::max_unconfigured_chains such chains
    /// have a pool at once); holding nothing for configured ones. Thread-safe.
    boost::system::result<PoolHold, ForkError> hold_pools(const std::vector<std::uint64_t>& chains);

    /// Stops (fork mode) or reverts and returns (pool mode) the fork. Runs to its end even when
    /// the caller stops waiting. A pooled fork that is not `reusable` (its lease was tainted) is
    /// destroyed and replaced instead of reverted.
    boost::asio::awaitable<ForkRelease> release(std::shared_ptr<ForkHandle> fork,
                                                MethodMeter meter,
                                                bool reusable = true);

    /// Starts no more anvils (spawns still waiting for their turn fail at once), then stops
    /// every pool and devnet upstream. Cancel the runs first: a fork a run is opening is stopped
    /// and reaped by that run's cancellation.
    boost::asio::awaitable<void> shutdown();

    /// The live endpoint of a chain, if configured.
    std::optional<std::string> upstream(std::uint64_t chain_id) const;

    RpcClient& rpc() { return rpc_; }
    const CuTable& cu() const { return cu_; }
    const ForksConfig& config() const { return config_; }
    const boost::asio::any_io_executor& executor() const { return ex_; }
    /// Caps the anvils starting at once (config fork_spawn_limit), for every fork and pool.
    const util::Limiter& spawn_limiter() const { return *spawn_limiter_; }
    /// What the chains' forks started ahead did so far. Thread-safe.
    SpawnAheadTotals spawn_ahead_totals() const;

  private:
    /// open_fork() in a coroutine of its own, which sees its cancellation as a value.
    boost::asio::awaitable<boost::system::result<ForkHandle, ForkError>> start_fork(
        std::uint64_t chain_id,
        MethodMeter meter,
        std::uint32_t* attempts,
        std::optional<std::uint64_t> block,
        util::Limiter::Priority priority = util::Limiter::Priority::kNow);
    /// One attempt of start_fork(); `retry` is set when another attempt may succeed.
    boost::asio::awaitable<boost::system::result<ForkHandle, ForkError>> start_once(
        std::uint64_t chain_id,
        const MethodMeter& meter,
        std::optional<std::uint64_t> block,
        util::Limiter::Priority priority,
        bool& retry);
    /// A fork started ahead of any run, for SpawnAhead (its spawn at background priority).
    boost::asio::awaitable<boost::system::result<SpawnedFork, ForkError>> start_ahead(
        std::uint64_t chain_id);
    /// One of the forks `ahead` started, as a run's, or none.
    boost::asio::awaitable<std::optional<ForkHandle>> take_ahead(SpawnAhead& ahead,
                                                                 std::uint64_t chain_id,
                                                                 const MethodMeter& meter,
                                                                 std::uint32_t* attempts);
    std::shared_ptr<ForkPool> pool_for(std::uint64_t chain_id);
    ForkSpec spec_for(std::uint64_t chain_id) const;
    /// The warm pool of `chain_id` pinned at `block`, if the configuration has one.
    std::shared_ptr<ForkPool> pinned_pool(std::uint64_t chain_id, std::uint64_t block);

    boost::asio::any_io_executor ex_;
    ForksConfig config_;
    CuTable cu_;
    RpcClient rpc_;
    std::shared_ptr<util::Limiter> spawn_limiter_;
    std::vector<std::unique_ptr<AnvilProcess>> devnets_;
    std::mutex pools_mu_;
    std::map<std::uint64_t, std::shared_ptr<ForkPool>> pools_;
    /// Made at start() from the configuration, never changed after: read without the lock.
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::shared_ptr<ForkPool>> pinned_pools_;
    std::shared_ptr<UnconfiguredPools> unconfigured_;
    /// Per configured chain with spawnAhead; made at start(), never changed after.
    std::map<std::uint64_t, std::shared_ptr<SpawnAhead>> ahead_;
};

}  // namespace forkrun::forks
