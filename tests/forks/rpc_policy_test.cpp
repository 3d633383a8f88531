// The method policy table: every class of the contract, the stricter live policy, anvil_reset's
// dependence on its params, hardhat_* aliases, and default-deny for names it does not know.
#include "forks/rpc_policy.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace forkrun::forks {
namespace {

namespace json = boost::json;

MethodClass on_fork(std::string_view method, const json::value* params = nullptr) {
    return classify_method(RpcTarget::kFork, method, params).method_class;
}

MethodClass live(std::string_view method) {
    return classify_method(RpcTarget::kLive, method).method_class;
}

TEST(RpcPolicy, StandardMethodsAndCheatCodesThatARevertUndoesAreAllowedOnAFork) {
    for (auto m : {"eth_call", "eth_getBalance", "eth_sendRawTransaction", "eth_sendTransaction",
                   "eth_subscribe", "net_version", "web3_clientVersion", "debug_traceTransaction",
                   "debug_traceCall", "anvil_setBalance", "anvil_setCode", "anvil_setStorageAt",
                   "anvil_setNonce", "anvil_mine", "evm_mine", "evm_increaseTime",
                   "evm_setNextBlockTimestamp", "hardhat_setBalance"}) {
        EXPECT_EQ(on_fork(m), MethodClass::kAllowed) << m;
    }
}

TEST(RpcPolicy, MethodsThatChangeANodeSettingTaintTheLease) {
    for (auto m :
         {"evm_setAutomine", "evm_setIntervalMining", "anvil_setIntervalMining",
          "anvil_impersonateAccount", "anvil_autoImpersonateAccount", "anvil_setChainId",
          "anvil_setCoinbase", "anvil_setNextBlockBaseFeePerGas", "anvil_setBlockTimestampInterval",
          "evm_snapshot", "evm_revert", "hardhat_impersonateAccount", "anvil_reset",
          "eth_newFilter", "eth_newBlockFilter", "eth_newPendingTransactionFilter"}) {
        EXPECT_EQ(on_fork(m), MethodClass::kTainting) << m;
    }
}

TEST(RpcPolicy, WhatReachesOutOrRevealsTheUpstreamIsRefusedWithAReason) {
    for (auto m : {"anvil_setRpcUrl", "anvil_nodeInfo", "anvil_metadata", "hardhat_metadata",
                   "hardhat_setRpcUrl"}) {
        const auto v = classify_method(RpcTarget::kFork, m);
        EXPECT_EQ(v.method_class, MethodClass::kRefused) << m;
        EXPECT_FALSE(v.reason.empty()) << m;
    }
}

TEST(RpcPolicy, AnvilResetWithAnUpstreamUrlIsRefusedWithoutOneItTaints) {
    const auto with_url = json::parse(R"([{"forking": {"jsonRpcUrl": "http://127.0.0.1:9"}}])");
    const auto block_only = json::parse(R"([{"forking": {"blockNumber": 5}}])");
    const auto none = json::parse("[]");
    const auto by_name = json::parse(R"({"forking": {"jsonRpcUrl": "http://127.0.0.1:9"}})");
    EXPECT_EQ(on_fork("anvil_reset", &with_url), MethodClass::kRefused);
    EXPECT_EQ(on_fork("hardhat_reset", &with_url), MethodClass::kRefused);
    EXPECT_EQ(on_fork("anvil_reset", &by_name), MethodClass::kRefused);
    EXPECT_EQ(on_fork("anvil_reset", &block_only), MethodClass::kTainting);
    const auto odd_key = json::parse(R"([{"forking": {"jsonrpcurl": "http://127.0.0.1:9"}}])");
    EXPECT_EQ(on_fork("anvil_reset", &odd_key), MethodClass::kRefused);
    EXPECT_EQ(on_fork("anvil_reset", &none), MethodClass::kTainting);
    EXPECT_EQ(on_fork("anvil_reset"), MethodClass::kTainting);
}

TEST(RpcPolicy, UnknownMethodsAreRefused) {
    for (auto m : {"anvil_somethingNew", "admin_addPeer", "personal_unlockAccount", "debug_setHead",
                   "miner_start", "", "eth"}) {
        EXPECT_EQ(on_fork(m), MethodClass::kRefused) << m;
    }
}

TEST(RpcPolicy, ALiveUpstreamTakesOnlyStandardReadAndSendMethods) {
    for (auto m : {"eth_call", "eth_getBalance", "eth_sendRawTransaction", "eth_blockNumber",
                   "eth_getTransactionReceipt", "net_version", "web3_clientVersion"}) {
        EXPECT_EQ(live(m), MethodClass::kAllowed) << m;
    }
    for (auto m : {"anvil_setBalance", "anvil_setChainId", "evm_setAutomine", "evm_mine",
                   "anvil_reset", "debug_traceTransaction", "eth_sendTransaction", "eth_sign",
                   "eth_sendUnsignedTransaction", "hardhat_setBalance", "evm_snapshot"}) {
        EXPECT_EQ(live(m), MethodClass::kRefused) << m;
        EXPECT_FALSE(classify_method(RpcTarget::kLive, m).reason.empty()) << m;
    }
}

TEST(RpcPolicy, TheTableNamesEachMethodOnceAndNeverAllowsLiveWhatItRefusesOnAFork) {
    std::set<std::string> seen;
    for (const auto& row : policy_table()) {
        EXPECT_TRUE(seen.insert(std::string(row.method)).second) << row.method;
        if (row.fork == MethodClass::kRefused) {
            EXPECT_EQ(row.live, MethodClass::kRefused) << row.method;
            EXPECT_FALSE(row.reason.empty()) << row.method;
        }
        EXPECT_NE(row.live, MethodClass::kTainting) << row.method;
    }
}

TEST(RpcPolicy, OnlyKnownReadsAreTakenNotToChangeState) {
    for (auto m : {"eth_getBalance", "eth_call", "eth_blockNumber", "eth_chainId",
                   "eth_getTransactionReceipt", "debug_traceTransaction", "net_version"}) {
        EXPECT_FALSE(changes_state(m)) << m;
    }
    for (auto m : {"eth_sendRawTransaction", "eth_sendTransaction", "anvil_setBalance",
                   "anvil_mine", "evm_setAutomine", "something_new"}) {
        EXPECT_TRUE(changes_state(m)) << m;
    }
}

TEST(RpcPolicy, TheDocsListEveryRowWithItsClasses) {
    std::ifstream in(FORKRUN_SOURCE_DIR "/docs/rpc-policy.md");
    ASSERT_TRUE(in) << "docs/rpc-policy.md is missing";
    std::stringstream text;
    text << in.rdbuf();
    for (const auto& row : policy_table()) {
        const std::string line = "| `" + std::string(row.method) + "` | " +
                                 std::string(to_string(row.fork)) + " | " +
                                 std::string(to_string(row.live)) + " |";
        EXPECT_NE(text.str().find(line), std::string::npos) << "docs lack: " << line;
    }
}

}  // namespace
}  // namespace forkrun::forks
