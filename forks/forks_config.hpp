// The chains a server can fork or reach, and how forks are made and torn down.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace forkrun::forks {

struct ChainConfig {
    /// The live chain's JSON-RPC endpoint; forks of this chain fork it. Absent: a simulation
    /// gets a fresh local chain with this chain id, and live runs cannot use the chain.
    std::optional<std::string> upstream_rpc_url;
    /// Warm forks kept ready for `pool` mode.
    std::size_t pool_size = 2;
    /// Warm pools of forks pinned at a block, for `pool` runs that pin one
    /// (forkBlockNumbers): block number -> pool size. Needs an upstream. Default: none, and a
    /// pinned lease of another block gets a fresh fork of its own.
    std::map<std::uint64_t, std::size_t> pinned_pools;
    /// Fresh forks started ahead for `fork` runs (spawnAhead); none: ForksConfig::spawn_ahead.
    std::optional<std::size_t> spawn_ahead;
};

/// The most forks spawnAhead keeps started per chain.
inline constexpr std::size_t kMaxSpawnAhead = 16;

/// The largest forkSpawnLimit accepted.
inline constexpr std::size_t kMaxForkSpawnLimit = 1024;

/// Twice the cores, at least 2: enough to keep the cores busy while anvils wait on I/O.
std::size_t default_spawn_limit() noexcept;

struct ForksConfig {
    std::string anvil_path;
    std::string cu_table_path;  // default: the shipped fixtures/cu/alchemy-2026-11.json
    std::chrono::milliseconds teardown_timeout{5000};
    std::chrono::milliseconds lease_timeout{30000};
    std::chrono::milliseconds rpc_timeout{30000};
    std::chrono::milliseconds fork_start_timeout{15000};
    /// Anvils starting at once (fork/exec to listening), per server; more wait in FIFO order.
    /// 0: default_spawn_limit() (twice the cores, at least 2).
    std::size_t fork_spawn_limit = 0;
    std::map<std::uint64_t, ChainConfig> chains;
    /// Chains that get a local anvil as their upstream when the server starts (--devnet).
    std::vector<std::uint64_t> devnet;
    /// Chains not in `chains` that have a warm pool at once (maxUnconfiguredChains).
    std::size_t max_unconfigured_chains = 4;
    /// Such a pool that no run has held this long is stopped (unconfiguredPoolIdleMs).
    std::chrono::milliseconds unconfigured_pool_idle{60000};
    /// Never-used forks kept started per configured chain for `fork` runs (spawnAhead,
    /// --spawn-ahead); a chain's own spawnAhead wins. 0: none, every fork is started on demand.
    std::size_t spawn_ahead = 1;
    /// A fork started ahead that no run has taken this long is replaced (spawnAheadMaxAgeMs).
    std::chrono::milliseconds spawn_ahead_max_age{60000};

    /// How many forks of `chain_id` are kept started ahead: 0 for a chain not configured.
    std::size_t spawn_ahead_of(std::uint64_t chain_id) const {
        auto it = chains.find(chain_id);
        if (it == chains.end()) {
            return 0;
        }
        return it->second.spawn_ahead.value_or(spawn_ahead);
    }
};

/// Reads the forks part of a config file:
/// {"anvilPath", "cuTable", "teardownTimeoutMs", "leaseTimeoutMs", "rpcTimeoutMs",
///  "forkSpawnLimit", "spawnAhead", "spawnAheadMaxAgeMs",
///  "chains": {"<chainId>": {"upstreamRpcUrl": "<url>" | null, "poolSize": <n>,
///  "pinnedPools": {"<block>": <n>}, "spawnAhead": <n>}},
///  "devnet": [ids]}
/// Unknown keys of other parts are left alone. Every problem is listed.
void read_forks_config(const boost::json::value& doc,
                       ForksConfig& out,
                       std::vector<std::string>& problems);

}  // namespace forkrun::forks
