// Tests for a fork's executionState.changes against a scripted fork (no anvil): the blocks walked
// in trace_filter windows, only the transactions no node reported traced, the balances of
// cheat-code addresses read, and every failure said in the totals instead of failing the run.
#include "controller/fork_changes.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "forks/eth/hex.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

using ScriptedAnswer = boost::system::result<json::value, ErrorInfo>;

/// A fork that answers each method with its script and records every call it was asked.
struct ScriptedFork {
    std::map<std::string, std::function<ScriptedAnswer(const json::array&)>> answers;
    std::vector<std::pair<std::string, json::array>> calls;

    ForkCall call() {
        return [this](std::string method, json::array params) -> asio::awaitable<ScriptedAnswer> {
            calls.emplace_back(method, params);
            auto it = answers.find(method);
            if (it == answers.end()) {
                co_return ErrorInfo{RunErrc::kRpcFailed, "chain 1: " + method + " failed"};
            }
            co_return it->second(params);
        };
    }

    std::size_t count(std::string_view method) const {
        std::size_t n = 0;
        for (const auto& [m, params] : calls) {
            n += m == method ? 1 : 0;
        }
        return n;
    }
};

ChainReport collect_scripted(ScriptedFork& fork, std::uint64_t start, ChainChanges& changes) {
    asio::io_context io;
    auto done =
        asio::co_spawn(io, collect_chain_changes(fork.call(), start, changes), asio::use_future);
    io.run();
    return done.get();
}

ScriptedAnswer fork_answer(std::string_view text) {
    return json::parse(text);
}

// A transfer of 5 wei from 0xaa to 0xbb at a burned fee of 1 wei.
constexpr const char* kForkChangesDiff = R"({
  "pre": {"0x00000000000000000000000000000000000000aa": {"balance": "0x64"},
          "0x00000000000000000000000000000000000000bb": {"balance": "0x0"}},
  "post": {"0x00000000000000000000000000000000000000aa": {"balance": "0x5e"},
           "0x00000000000000000000000000000000000000bb": {"balance": "0x5"}}})";

TEST(ForkChanges, TheBlocksAreWalkedAndOnlyUnreportedTransactionsTraced) {
    ScriptedFork fork;
    fork.answers["eth_blockNumber"] = [](const json::array&) { return fork_answer(R"("0xc")"); };
    fork.answers["trace_filter"] = [](const json::array&) {
        return fork_answer(R"([
            {"transactionHash": "0xAB01", "blockNumber": 11, "transactionPosition": 0},
            {"transactionHash": "0xab01", "blockNumber": 11, "transactionPosition": 0},
            {"transactionHash": "0xcd02", "blockNumber": 12, "transactionPosition": 0},
            {"blockNumber": 12}, 7])");
    };
    fork.answers["debug_traceTransaction"] = [](const json::array&) {
        return fork_answer(kForkChangesDiff);
    };
    ChainChanges changes;
    changes.add_transaction("0xcd02", ChainPosition{12, 0}, {});  // a node reported it
    const ChainReport report = collect_scripted(fork, 10, changes);

    ASSERT_EQ(fork.count("trace_filter"), 1u);
    EXPECT_EQ(json::value(fork.calls[1].second),
              json::parse(R"([{"fromBlock": "0xb", "toBlock": "0xc"}])"));
    ASSERT_EQ(fork.count("debug_traceTransaction"), 1u);
    EXPECT_EQ(json::value(fork.calls[2].second),
              json::parse(R"(["0xab01", {"tracer": "prestateTracer",
                               "tracerConfig": {"diffMode": true}}])"));
    EXPECT_TRUE(changes.knows("0xab01"));
    EXPECT_EQ(report.accounts.at("0x00000000000000000000000000000000000000aa").at("deltaWei"),
              "-6");
    EXPECT_EQ(report.accounts.at("0x00000000000000000000000000000000000000bb").at("deltaWei"), "5");
    EXPECT_EQ(report.totals.at("burnedWei"), "1");
    EXPECT_EQ(report.totals.at("transactions"), json::value(2));
    EXPECT_EQ(report.totals.at("startBlock"), json::value(10));
    EXPECT_EQ(report.totals.at("headBlock"), json::value(12));
    EXPECT_EQ(report.totals.at("complete"), json::value(true));
    EXPECT_TRUE(report.totals.at("error").is_null());
}

TEST(ForkChanges, NoBlockMinedIsNoWalk) {
    ScriptedFork fork;
    fork.answers["eth_blockNumber"] = [](const json::array&) { return fork_answer(R"("0xa")"); };
    ChainChanges changes;
    const ChainReport report = collect_scripted(fork, 10, changes);
    EXPECT_EQ(fork.calls.size(), 1u);
    EXPECT_TRUE(report.accounts.empty());
    EXPECT_EQ(report.totals.at("complete"), json::value(true));
    EXPECT_EQ(report.totals.at("transactions"), json::value(0));
}

TEST(ForkChanges, AWalkIsCutAfterItsBoundInWindowsOf300Blocks) {
    ScriptedFork fork;
    const std::uint64_t start = 100;
    fork.answers["eth_blockNumber"] = [&](const json::array&) {
        return ScriptedAnswer(json::value(eth::to_hex_quantity(start + kMaxChangeBlocks + 1)));
    };
    fork.answers["trace_filter"] = [](const json::array&) { return fork_answer("[]"); };
    ChainChanges changes;
    const ChainReport report = collect_scripted(fork, start, changes);
    EXPECT_EQ(fork.count("trace_filter"), kMaxChangeBlocks / 300);
    EXPECT_EQ(json::value(fork.calls.back().second),
              json::parse(R"([{"fromBlock": "0x7469", "toBlock": "0x7594"}])"));
    EXPECT_EQ(report.totals.at("complete"), json::value(false));
    EXPECT_EQ(report.totals.at("error"),
              "the fork mined 30001 blocks; the first 30000 were walked");
    EXPECT_EQ(report.totals.at("headBlock"), json::value(start + kMaxChangeBlocks + 1));
}

TEST(ForkChanges, WhatCouldNotBeReadIsSaidInTheTotals) {
    // No head: nothing walked, the call's own error said.
    ScriptedFork headless;
    ChainChanges none;
    ChainReport report = collect_scripted(headless, 10, none);
    EXPECT_EQ(headless.calls.size(), 1u);
    EXPECT_EQ(report.totals.at("headBlock"), json::value(10));
    EXPECT_EQ(report.totals.at("error"), "chain 1: eth_blockNumber failed");
    ScriptedFork number_head;
    number_head.answers["eth_blockNumber"] = [](const json::array&) { return fork_answer("12"); };
    report = collect_scripted(number_head, 10, none);
    EXPECT_EQ(report.totals.at("error"), "eth_blockNumber answered a non-quantity");

    // trace_filter not an array; a trace that fails.
    ScriptedFork fork;
    fork.answers["eth_blockNumber"] = [](const json::array&) { return fork_answer(R"("0xb")"); };
    fork.answers["trace_filter"] = [](const json::array&) { return fork_answer("{}"); };
    ChainChanges changes;
    report = collect_scripted(fork, 10, changes);
    EXPECT_EQ(report.totals.at("complete"), json::value(false));
    EXPECT_EQ(report.totals.at("error"), "trace_filter answered a non-array");
    fork.answers["trace_filter"] = [](const json::array&) {
        return fork_answer(R"([{"transactionHash": "0xee", "blockNumber": "0xb"}])");
    };
    report = collect_scripted(fork, 10, changes);
    EXPECT_EQ(report.totals.at("error"), "tracing 0xee: chain 1: debug_traceTransaction failed");
    EXPECT_FALSE(changes.knows("0xee"));
}

TEST(ForkChanges, ACheatCodesAddressIsReadAtTheStartAndAtTheEnd) {
    ScriptedFork fork;
    fork.answers["eth_blockNumber"] = [](const json::array&) { return fork_answer(R"("0xa")"); };
    fork.answers["eth_getBalance"] = [](const json::array& params) {
        return fork_answer(params.at(1) == "latest" ? R"("0x64")" : R"("0x10")");
    };
    ChainChanges changes;
    changes.touch("0xDD00000000000000000000000000000000000000");
    const ChainReport report = collect_scripted(fork, 10, changes);
    ASSERT_EQ(fork.count("eth_getBalance"), 2u);
    EXPECT_EQ(json::value(fork.calls[1].second),
              json::parse(R"(["0xdd00000000000000000000000000000000000000", "0xa"])"));
    EXPECT_EQ(json::value(fork.calls[2].second),
              json::parse(R"(["0xdd00000000000000000000000000000000000000", "latest"])"));
    const auto& dd = report.accounts.at("0xdd00000000000000000000000000000000000000");
    EXPECT_EQ(dd.at("beforeWei"), "16");
    EXPECT_EQ(dd.at("afterWei"), "100");
    EXPECT_EQ(dd.at("deltaWei"), "84");
    EXPECT_EQ(report.totals.at("mintedWei"), "84");

    // A balance that is not a quantity, as a number or as text, is said, not taken as zero.
    for (const char* answer : {"1", R"("0xzz")", "null"}) {
        fork.answers["eth_getBalance"] = [&](const json::array&) { return fork_answer(answer); };
        const ChainReport bad = collect_scripted(fork, 10, changes);
        EXPECT_EQ(bad.totals.at("complete"), json::value(false)) << answer;
        EXPECT_EQ(bad.totals.at("error"),
                  "eth_getBalance of 0xdd00000000000000000000000000000000000000: not a quantity")
            << answer;
        EXPECT_FALSE(bad.accounts.contains("0xdd00000000000000000000000000000000000000")) << answer;
    }
}

}  // namespace
}  // namespace forkrun::controller
