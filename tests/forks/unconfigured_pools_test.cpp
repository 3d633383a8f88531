// Tests for the allowance of unconfigured chains' pools and their reaping once idle (no anvil:
// the pool factory makes none, so only the bookkeeping is under test here).
#include <chrono>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "forks/unconfigured_pools.hpp"

namespace forkrun::forks {

namespace {

using namespace std::chrono_literals;

std::shared_ptr<UnconfiguredPools> make_pools(boost::asio::io_context& ioc) {
    return std::make_shared<UnconfiguredPools>(ioc.get_executor(), 2, 20ms,
                                               [](std::uint64_t) { return nullptr; });
}

// Runs `ioc` until `done()` or the deadline; whether it became true.
template <class Done>
bool run_until(boost::asio::io_context& ioc, Done done, std::chrono::milliseconds within = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        ioc.restart();
        ioc.run_one_for(10ms);
    }
    return done();
}

TEST(UnconfiguredPools, AtMostTheAllowanceOfChainsIsHeldAtOnce) {
    boost::asio::io_context ioc;
    auto pools = make_pools(ioc);
    auto a = pools->hold({5, 5, 6});
    ASSERT_TRUE(a);
    EXPECT_EQ(pools->chains(), 2u);
    auto shared = pools->hold({6});
    EXPECT_TRUE(shared) << "a chain already held takes no more room";

    auto over = pools->hold({7});
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().code, PoolErrc::kAllowanceTaken);
    EXPECT_EQ(over.error().message,
              "chain 7 is not in the configuration, and chains 5, 6 already have a pool; at most "
              "2 chains the configuration does not list may have a pool at once "
              "(maxUnconfiguredChains). A pool no run has held for 20 ms is stopped");
    auto never = pools->hold({7, 8, 9});
    ASSERT_FALSE(never);
    EXPECT_EQ(never.error().code, PoolErrc::kTooManyChains);
    EXPECT_EQ(never.error().message,
              "this run needs pools for 3 chains the configuration does not list (7, 8, 9); at "
              "most 2 chains the configuration does not list may have a pool at once "
              "(maxUnconfiguredChains)");
    EXPECT_EQ(pools->chains(), 2u) << "a refused hold holds nothing";
    EXPECT_TRUE(pools->hold({}));
}

TEST(UnconfiguredPools, AChainNoOneHoldsIsReapedOnceIdleAndMakesRoom) {
    boost::asio::io_context ioc;
    auto pools = make_pools(ioc);
    auto a = pools->hold({5});
    auto b = pools->hold({6});
    ASSERT_TRUE(a && b);
    a->release();
    EXPECT_EQ(pools->chains(), 2u) << "reaped only after the idle time";
    EXPECT_TRUE(run_until(ioc, [&] { return pools->chains() == 1; }));
    EXPECT_TRUE(pools->hold({7})) << "the reaped chain's room is free again";
    EXPECT_FALSE(pools->pool(5)) << "a chain nobody holds has no pool";
    pools->close();
}

TEST(UnconfiguredPools, HoldingAgainBeforeTheIdleTimeKeepsThePool) {
    boost::asio::io_context ioc;
    auto pools = make_pools(ioc);
    auto a = pools->hold({5});
    ASSERT_TRUE(a);
    a->release();
    auto again = pools->hold({5});
    ASSERT_TRUE(again);
    // The cancelled reaper has run (there is nothing else to run) and left the chain alone.
    ioc.restart();
    ioc.run();
    EXPECT_EQ(pools->chains(), 1u);
    pools->close();
    EXPECT_EQ(pools->chains(), 0u);
    EXPECT_FALSE(pools->hold({5})) << "no hold after close";
}

TEST(UnconfiguredPools, AHoldAfterCloseIsRefusedAsShutDown) {
    boost::asio::io_context ioc;
    auto pools = make_pools(ioc);
    pools->close();
    const auto refused = pools->hold({5});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, PoolErrc::kShutDown);
    EXPECT_EQ(refused.error().message, "the server is stopping its pools");
    EXPECT_TRUE(pools->hold({})) << "no chain: nothing to refuse";
}

}  // namespace

}  // namespace forkrun::forks
