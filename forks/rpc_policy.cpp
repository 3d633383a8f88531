// The method policy table. Default-deny: a method that no row names is refused, so a cheat code
// added to a later anvil is refused until someone has checked what evm_revert does to it.
#include "forks/rpc_policy.hpp"

#include <array>
#include <string>

namespace forkrun::forks {
namespace {

constexpr auto A = MethodClass::kAllowed;
constexpr auto T = MethodClass::kTainting;
constexpr auto R = MethodClass::kRefused;

constexpr std::string_view kContacts =
    "it would make the fork contact an address the caller chooses";
constexpr std::string_view kReveals = "its answer would reveal the fork's upstream";
constexpr std::string_view kUnknown = "it is not in forkrun's method policy";
constexpr std::string_view kLiveOnly =
    "a live run may call only the standard read and send methods (eth_*, net_*, web3_*)";
constexpr std::string_view kLiveKeys =
    "a live run signs inside forkrun; the upstream's own accounts are never used";

// Rows ending in '*' are prefixes. Exact rows win over prefixes.
constexpr std::array kTable = {
    // The standard namespaces.
    PolicyRow{"eth_*", A, A, {}},
    PolicyRow{"net_*", A, A, {}},
    PolicyRow{"web3_*", A, A, {}},
    // Methods that use the node's own keys: fine on a fork's dev accounts, never upstream.
    PolicyRow{"eth_sendTransaction", A, R, {}},
    PolicyRow{"eth_sign", A, R, {}},
    PolicyRow{"eth_signTransaction", A, R, {}},
    PolicyRow{"eth_signTypedData", A, R, {}},
    PolicyRow{"eth_signTypedData_v3", A, R, {}},
    PolicyRow{"eth_signTypedData_v4", A, R, {}},
    PolicyRow{"eth_sendUnsignedTransaction", A, R, {}},  // anvil's: any sender, no signature
    // Filters outlive evm_revert (and would let a lease watch the next tenant's blocks).
    PolicyRow{"eth_newFilter", T, A, {}},
    PolicyRow{"eth_newBlockFilter", T, A, {}},
    PolicyRow{"eth_newPendingTransactionFilter", T, A, {}},
    // Read-only tracing and inspection.
    PolicyRow{"debug_trace*", A, R, {}},
    PolicyRow{"trace_*", A, R, {}},
    PolicyRow{"txpool_*", A, R, {}},
    PolicyRow{"ots_*", A, R, {}},
    PolicyRow{"anvil_getAutomine", A, R, {}},
    PolicyRow{"anvil_getIntervalMining", A, R, {}},
    PolicyRow{"anvil_getBlobByHash", A, R, {}},
    PolicyRow{"anvil_getBlobsByTransactionHash", A, R, {}},
    // Cheat codes whose effect evm_revert undoes.
    PolicyRow{"anvil_setBalance", A, R, {}},
    PolicyRow{"anvil_addBalance", A, R, {}},
    PolicyRow{"anvil_setCode", A, R, {}},
    PolicyRow{"anvil_setStorageAt", A, R, {}},
    PolicyRow{"anvil_setNonce", A, R, {}},
    PolicyRow{"anvil_dealERC20", A, R, {}},
    PolicyRow{"anvil_setERC20Allowance", A, R, {}},
    PolicyRow{"anvil_mine", A, R, {}},
    PolicyRow{"anvil_mine_detailed", A, R, {}},
    PolicyRow{"evm_mine", A, R, {}},
    PolicyRow{"evm_mine_detailed", A, R, {}},
    PolicyRow{"evm_increaseTime", A, R, {}},
    PolicyRow{"anvil_increaseTime", A, R, {}},
    PolicyRow{"evm_setNextBlockTimestamp", A, R, {}},
    PolicyRow{"anvil_setNextBlockTimestamp", A, R, {}},
    PolicyRow{"anvil_dropTransaction", A, R, {}},
    PolicyRow{"anvil_dropAllTransactions", A, R, {}},
    PolicyRow{"anvil_removePoolTransactions", A, R, {}},
    // Node settings evm_revert does not undo (or snapshots of their own): the lease is tainted.
    PolicyRow{"evm_setAutomine", T, R, {}},
    PolicyRow{"anvil_setAutomine", T, R, {}},
    PolicyRow{"evm_setIntervalMining", T, R, {}},
    PolicyRow{"anvil_setIntervalMining", T, R, {}},
    PolicyRow{"anvil_impersonateAccount", T, R, {}},
    PolicyRow{"anvil_stopImpersonatingAccount", T, R, {}},
    PolicyRow{"anvil_autoImpersonateAccount", T, R, {}},
    PolicyRow{"anvil_setChainId", T, R, {}},
    PolicyRow{"anvil_setCoinbase", T, R, {}},
    PolicyRow{"anvil_setNextBlockBaseFeePerGas", T, R, {}},
    PolicyRow{"anvil_setMinGasPrice", T, R, {}},
    PolicyRow{"anvil_setBlockTimestampInterval", T, R, {}},
    PolicyRow{"anvil_removeBlockTimestampInterval", T, R, {}},
    PolicyRow{"evm_setBlockGasLimit", T, R, {}},
    PolicyRow{"anvil_setBlockGasLimit", T, R, {}},
    PolicyRow{"evm_setTime", T, R, {}},
    PolicyRow{"anvil_setTime", T, R, {}},
    PolicyRow{"evm_snapshot", T, R, {}},
    PolicyRow{"evm_revert", T, R, {}},
    PolicyRow{"anvil_snapshot", T, R, {}},
    PolicyRow{"anvil_revert", T, R, {}},
    PolicyRow{"anvil_rollback", T, R, {}},
    PolicyRow{"anvil_reorg", T, R, {}},
    PolicyRow{"anvil_loadState", T, R, {}},
    PolicyRow{"anvil_dumpState", A, R, {}},
    PolicyRow{"anvil_setLoggingEnabled", T, R, {}},
    PolicyRow{"anvil_reset", T, R, {}},  // refused with a forking.jsonRpcUrl (below)
    // Refused: the fork would reach out, or the answer names the upstream.
    PolicyRow{"anvil_setRpcUrl", R, R, kContacts},
    PolicyRow{"anvil_nodeInfo", R, R, kReveals},
    PolicyRow{"anvil_metadata", R, R, kReveals},
};

bool is_prefix_row(const PolicyRow& row) {
    return !row.method.empty() && row.method.back() == '*';
}

const PolicyRow* find_row(std::string_view method) {
    const PolicyRow* best = nullptr;
    std::size_t best_len = 0;
    for (const auto& row : kTable) {
        if (!is_prefix_row(row)) {
            if (row.method == method) {
                return &row;
            }
            continue;
        }
        const auto prefix = row.method.substr(0, row.method.size() - 1);
        if (method.starts_with(prefix) && prefix.size() > best_len) {
            best = &row;
            best_len = prefix.size();
        }
    }
    return best;
}

// anvil_reset({"forking": {"jsonRpcUrl": ...}}) re-points the fork at any URL.
bool names_an_rpc_url(const boost::json::value* params) {
    const auto* arr = params ? params->if_array() : nullptr;
    if (arr == nullptr) {
        return params != nullptr && !params->is_null();  // by-name params: refuse, unread
    }
    for (const auto& p : *arr) {
        if (p.is_null()) {
            continue;
        }
        const auto* obj = p.if_object();
        if (obj == nullptr) {
            return true;  // not the documented shape: refuse rather than guess what anvil reads
        }
        const auto* forking = obj->if_contains("forking");
        if (forking == nullptr || forking->is_null()) {
            continue;
        }
        const auto* f = forking->if_object();
        if (f == nullptr) {
            return true;
        }
        for (const auto& kv : *f) {
            if (kv.key() != "blockNumber") {
                return true;  // only the documented block may be chosen; anything else is refused
            }
        }
    }
    return false;
}

}  // namespace

MethodVerdict classify_method(RpcTarget target,
                              std::string_view method,
                              const boost::json::value* params) noexcept {
    // anvil serves every anvil_* method under a hardhat_* name too.
    std::string alias;
    if (method.starts_with("hardhat_")) {
        try {
            alias = "anvil_" + std::string(method.substr(8));
        } catch (...) {
            return {MethodClass::kRefused, kUnknown};
        }
        method = alias;
    }
    const auto* row = find_row(method);
    if (row == nullptr) {
        return {MethodClass::kRefused, target == RpcTarget::kLive ? kLiveOnly : kUnknown};
    }
    if (target == RpcTarget::kLive) {
        if (row->live == MethodClass::kAllowed) {
            return {MethodClass::kAllowed, {}};
        }
        return {MethodClass::kRefused,
                row->fork == MethodClass::kAllowed && row->method.starts_with("eth_") ? kLiveKeys
                                                                                      : kLiveOnly};
    }
    if (method == "anvil_reset" && names_an_rpc_url(params)) {
        return {MethodClass::kRefused, kContacts};
    }
    return {row->fork, row->fork == MethodClass::kRefused ? row->reason : std::string_view()};
}

bool changes_state(std::string_view method) noexcept {
    constexpr std::string_view kReadPrefixes[] = {"eth_get",
                                                  "eth_call",
                                                  "eth_blockNumber",
                                                  "eth_chainId",
                                                  "eth_estimateGas",
                                                  "eth_gasPrice",
                                                  "eth_feeHistory",
                                                  "eth_maxPriorityFeePerGas",
                                                  "eth_syncing",
                                                  "eth_accounts",
                                                  "eth_coinbase",
                                                  "net_",
                                                  "web3_",
                                                  "debug_trace",
                                                  "trace_",
                                                  "txpool_",
                                                  "ots_"};
    for (auto prefix : kReadPrefixes) {
        if (method.starts_with(prefix)) {
            return false;
        }
    }
    return true;
}

std::span<const PolicyRow> policy_table() noexcept {
    return kTable;
}

std::string_view to_string(MethodClass c) noexcept {
    switch (c) {
        case MethodClass::kAllowed:
            return "allowed";
        case MethodClass::kTainting:
            return "tainting";
        case MethodClass::kRefused:
            return "refused";
    }
    return "refused";
}

}  // namespace forkrun::forks
