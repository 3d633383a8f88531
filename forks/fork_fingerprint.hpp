// A pooled fork's fingerprint: the node settings and head that a lease must leave as they were,
// read in one JSON-RPC batch, so a release can prove the fork is back where it started instead of
// trusting an `evm_revert` that answered true.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "forks/fork_error.hpp"
#include "forks/rpc_client.hpp"

namespace forkrun::forks {

/// What is compared: anvil's instance id (anvil_reset changes it), chain id, head block number
/// and hash, the upstream and fork block, hardfork, base fee, gas price and limit, automine,
/// interval mining, coinbase, the transaction pool's counts and the open snapshots.
struct ForkFingerprint {
    boost::json::object fields;  ///< One member per compared value, keyed by a readable name.
    std::string base_fee;        ///< The next block's base fee (hex), to set back after a lease.
};

/// The methods read_fingerprint() sends, in order (for metering and docs).
inline constexpr std::string_view kFingerprintMethods[] = {
    "anvil_metadata", "anvil_nodeInfo", "anvil_getAutomine", "anvil_getIntervalMining",
    "eth_coinbase",   "txpool_status",  "eth_chainId"};

/// Reads the fingerprint of the fork at `url` in one batch (PoolErrc::kFingerprintFailed when
/// it cannot). Resumes on the caller's executor.
boost::asio::awaitable<boost::system::result<ForkFingerprint, ForkError>> read_fingerprint(
    RpcClient& rpc,
    std::string url,
    std::chrono::milliseconds timeout,
    std::string label);

/// The differences between `want` and `got` as one sentence ("chainId is 5, was 31337; ..."),
/// empty when they are the same.
std::string fingerprint_difference(const ForkFingerprint& want, const ForkFingerprint& got);

/// Whether every difference is one that restore_settings() sets back (base fee and gas price, a
/// non-empty transaction pool).
bool only_restorable_differences(const ForkFingerprint& want, const ForkFingerprint& got);

/// Sets back what evm_revert leaves behind: the next block's base fee, and drops every pending
/// or queued transaction (PoolErrc::kRestoreFailed when it cannot). Resumes on the caller's
/// executor.
boost::asio::awaitable<boost::system::result<void, ForkError>> restore_settings(
    RpcClient& rpc,
    std::string url,
    const ForkFingerprint& want,
    std::chrono::milliseconds timeout,
    std::string label);

}  // namespace forkrun::forks
