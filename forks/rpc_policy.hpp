// The JSON-RPC method policy: which methods a run's rpcUrl and its `rpc` nodes may send to a fork
// or to a live chain's upstream, which ones taint a pooled fork's lease, and which are refused.
#pragma once

#include <boost/json/value.hpp>

#include <span>
#include <string_view>

namespace forkrun::forks {

/// What a call may do.
enum class MethodClass {
    kAllowed,   ///< Forwarded; whatever it changes, evm_revert undoes.
    kTainting,  ///< Forwarded, but it changes a node setting: a pooled fork is replaced at release.
    kRefused,   ///< Never forwarded: JSON-RPC error -32601, 0 CU.
};

/// Where a call goes.
enum class RpcTarget {
    kFork,  ///< A simulation's own fork (through its rpcUrl or an `rpc` node).
    kLive,  ///< A live chain's configured upstream, shared by every organization.
};

/// The JSON-RPC error code of a refused call.
inline constexpr int kRefusedCode = -32601;

/// The policy's answer for one call.
struct MethodVerdict {
    MethodClass method_class = MethodClass::kRefused;
    std::string_view reason;  ///< Why it is refused (static text); empty otherwise.
};

/// Classifies one call. `params` is the call's params (null or absent: none); only a few methods
/// depend on them (`anvil_reset` with a `forking.jsonRpcUrl` is refused, without one it taints).
/// `hardhat_*` names are classified as the `anvil_*` method anvil serves under them.
MethodVerdict classify_method(RpcTarget target,
                              std::string_view method,
                              const boost::json::value* params = nullptr) noexcept;

/// Whether a call may change the chain's state or settings (false only for known reads: eth_get*,
/// eth_call, eth_blockNumber, eth_chainId, eth_estimateGas, gas prices, net_*, web3_*, traces).
bool changes_state(std::string_view method) noexcept;

/// One row of the policy table, for the docs and the tests.
struct PolicyRow {
    std::string_view method;  ///< A method name, or a prefix ending in `*`.
    MethodClass fork;         ///< Its class on a simulation's fork.
    MethodClass live;         ///< Its class on a live upstream.
    std::string_view reason;  ///< Why, when refused on a fork.
};

/// The explicit rows of the table, prefixes included; a method no row names is refused.
std::span<const PolicyRow> policy_table() noexcept;

/// "allowed", "tainting" or "refused".
std::string_view to_string(MethodClass c) noexcept;

}  // namespace forkrun::forks
