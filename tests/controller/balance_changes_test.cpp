// Tests for state diffs presented as before and after, balance changes, and a chain's net effect
// over out-of-order events.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "controller/balance_changes.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;

// anvil's prestateTracer diff of a plain transfer (taken from anvil 1.7.1).
constexpr const char* kTransferDiff = R"({
  "post": {"0x0000000000000000000000000000000000000000": {"balance": "0x1319718a5000"},
           "0x00000000000000000000000000000000000000cc": {"balance": "0x5"},
           "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266": {"balance": "0x21e19e0a387cf2b5ffb", "nonce": 1}},
  "pre": {"0x0000000000000000000000000000000000000000": {"balance": "0x0"},
          "0x00000000000000000000000000000000000000cc": {"balance": "0x0"},
          "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266": {"balance": "0x21e19e0c9bab2400000"}}})";

TEST(BalanceChanges, ATransfersDiffAddsUpToTheBurnedBaseFee) {
    const auto diff = json::parse(kTransferDiff);
    const auto changes = balance_changes(diff);
    ASSERT_EQ(changes.size(), 3u);
    SignedWei sum;
    for (const auto& c : changes) {
        sum += SignedWei::delta(c.before, c.after);
    }
    // 21000 gas at a 1 gwei base fee.
    EXPECT_EQ(sum.to_decimal(), "-21000000000000");
    const auto j = balance_changes_json(changes);
    EXPECT_EQ(j[1].at("address"), "0x00000000000000000000000000000000000000cc");
    EXPECT_EQ(j[1].at("deltaWei"), "5");

    const auto state = present_state_diff(diff);
    const auto& dev0 = state.at("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266").as_object();
    EXPECT_EQ(dev0.at("nonce").at("before"), json::value(0));
    EXPECT_EQ(dev0.at("nonce").at("after"), json::value(1));
    EXPECT_EQ(dev0.at("balance").at("before"), "0x21e19e0c9bab2400000");
}

TEST(BalanceChanges, StorageAndCodeAndDeletedAccounts) {
    const auto diff = json::parse(R"({
      "pre": {"0xAA00000000000000000000000000000000000000": {"balance": "0x10", "storage":
                 {"0x01": "0x05", "0x02": "0x07"}},
              "0xbb00000000000000000000000000000000000000": {"balance": "0x3"}},
      "post": {"0xaa00000000000000000000000000000000000000": {"storage": {"0x01": "0x06"}},
               "0xcc00000000000000000000000000000000000000": {"code": "0x6000", "balance": "0x1"}}})");
    const auto state = present_state_diff(diff);
    const auto& aa = state.at("0xaa00000000000000000000000000000000000000").as_object();
    EXPECT_FALSE(aa.contains("balance"));  // unchanged
    EXPECT_EQ(aa.at("storage").at("0x01").at("after"), "0x06");
    // Left out of post: zeroed.
    EXPECT_EQ(aa.at("storage").at("0x02").at("after"),
              "0x0000000000000000000000000000000000000000000000000000000000000000");
    // Created, and deleted.
    EXPECT_EQ(state.at("0xcc00000000000000000000000000000000000000").at("code").at("before"), "0x");
    EXPECT_EQ(state.at("0xbb00000000000000000000000000000000000000").at("balance").at("after"),
              "0x0");
    const auto changes = balance_changes(diff);
    ASSERT_EQ(changes.size(), 2u);  // bb to zero, cc from zero
}

TEST(ChainChanges, NetEffectTakesTheEarliestBeforeAndTheLatestAfter) {
    ChainChanges c;
    // Reported out of order: a transaction of block 3, then a balance set at head 1, then
    // the transaction of block 2 that the walk found.
    c.add_transaction("0xB3", ChainPosition{3, 0}, {{"0xaa", 90, 80}, {"0x00", 0, 1}});
    c.add_balance_set(ChainPosition::after_block(1), {"0xAA", 50, 100});
    c.add_transaction("0xb2", ChainPosition{2, 0}, {{"0xaa", 100, 90}, {"0xbb", 0, 9}});
    c.add_transaction("0xb2", ChainPosition{2, 0}, {{"0xaa", 100, 90}});  // known: ignored
    EXPECT_TRUE(c.knows("0xb3"));
    json::object totals;
    const auto net = c.net({}, {}, totals);
    EXPECT_EQ(net.at("0xaa").at("beforeWei"), "50");
    EXPECT_EQ(net.at("0xaa").at("afterWei"), "80");
    EXPECT_EQ(net.at("0xaa").at("deltaWei"), "30");
    EXPECT_EQ(net.at("0xbb").at("deltaWei"), "9");
    EXPECT_EQ(totals.at("deltaWei"), "40");
    EXPECT_EQ(totals.at("burnedWei"), "10");  // 1 in block 2, 9 in block 3
    EXPECT_EQ(totals.at("mintedWei"), "50");
    EXPECT_EQ(totals.at("transactions"), json::value(2));

    // A cheat code's address: its before and after read from the chain.
    c.touch("0xDD");
    const auto with_cheat = c.net({{"0xdd", 4}}, {{"0xdd", 1}, {"0xaa", 70}}, totals);
    EXPECT_EQ(with_cheat.at("0xdd").at("deltaWei"), "-3");
    EXPECT_EQ(with_cheat.at("0xaa").at("afterWei"), "70");
}

}  // namespace
}  // namespace forkrun::controller
