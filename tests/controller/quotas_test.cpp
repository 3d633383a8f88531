// Tests for the in-process quotas: active runs and live forks per organization and server-wide,
// their refusals' messages, and the places a ticket gives back.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "controller/limits.hpp"
#include "controller/quotas.hpp"

namespace forkrun::controller {
namespace {

Limits small_quotas() {
    Limits l;
    l.active_runs_per_org = 2;
    l.active_runs = 3;
    l.live_forks_per_org = 2;
    l.live_forks = 3;
    return l;
}

TEST(Quotas, ActiveRunsPerOrganizationThenServerWide) {
    Quotas q(small_quotas());
    auto a1 = q.reserve("org_a", 0);
    auto a2 = q.reserve("org_a", 0);
    ASSERT_TRUE(a1 && a2);
    auto a3 = q.reserve("org_a", 0);
    ASSERT_FALSE(a3);
    EXPECT_EQ(a3.error().message,
              "organization org_a has 2 active runs, the limit (maxActiveRunsPerOrg); retry once "
              "one of them has ended");
    EXPECT_EQ(a3.error().retry_after, kQuotaRetryAfter);
    EXPECT_FALSE(a3.error().permanent);
    auto b1 = q.reserve("org_b", 0);
    ASSERT_TRUE(b1);
    auto b2 = q.reserve("org_b", 0);
    ASSERT_FALSE(b2);
    EXPECT_NE(b2.error().message.find("(maxActiveRuns)"), std::string::npos) << b2.error().message;
    a1->release();
    EXPECT_TRUE(q.reserve("org_b", 0));  // released again at once: the ticket is a temporary
    EXPECT_EQ(q.total().runs, 2u);
}

TEST(Quotas, LiveForksAreCountedFromTheChainsAndGivenBackWithTheTicket) {
    Quotas q(small_quotas());
    {
        auto two = q.reserve("org_a", 2);
        ASSERT_TRUE(two);
        EXPECT_EQ(q.usage("org_a").forks, 2u);
        auto one_more = q.reserve("org_a", 1);
        ASSERT_FALSE(one_more);
        EXPECT_EQ(one_more.error().message,
                  "organization org_a holds 2 live forks and this run needs 1 more; the limit is 2 "
                  "(maxLiveForksPerOrg); retry once a simulation has ended");
        EXPECT_TRUE(q.reserve("org_a", 0)) << "a run without forks still fits";
        auto other = q.reserve("org_b", 1);
        ASSERT_TRUE(other);
        auto past_server = q.reserve("org_c", 1);
        ASSERT_FALSE(past_server);
        EXPECT_NE(past_server.error().message.find("(maxLiveForks)"), std::string::npos);
        Quotas::Ticket moved = std::move(*two);
        EXPECT_EQ(q.usage("org_a").forks, 2u) << "a move keeps the place";
    }
    EXPECT_EQ(q.total().runs, 0u);
    EXPECT_EQ(q.total().forks, 0u);
    EXPECT_EQ(q.usage("org_a").runs, 0u);
}

TEST(Quotas, AKeptRunGivesBackItsRunButKeepsItsForksUntilReleased) {
    Quotas q(small_quotas());
    auto kept = q.reserve("org_a", 2);
    ASSERT_TRUE(kept);
    kept->release_run();
    kept->release_run();  // idempotent
    EXPECT_EQ(q.usage("org_a").runs, 0u);
    EXPECT_EQ(q.usage("org_a").forks, 2u);
    EXPECT_TRUE(q.reserve("org_a", 0)) << "no longer an active run";
    EXPECT_FALSE(q.reserve("org_a", 1)) << "its forks still count";
    kept->release();
    EXPECT_EQ(q.total().runs, 0u);
    EXPECT_EQ(q.total().forks, 0u);
    EXPECT_TRUE(q.reserve("org_a", 2));
}

TEST(Quotas, ARunNeedingMoreForksThanTheLimitCanNeverFit) {
    Quotas q(small_quotas());
    auto r = q.reserve("org_a", 3);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().permanent);
    EXPECT_EQ(r.error().message,
              "this run needs 3 forks, more than an organization may hold at once, 2 "
              "(maxLiveForksPerOrg)");
    EXPECT_EQ(q.total().runs, 0u);
}

}  // namespace
}  // namespace forkrun::controller
