// The quota statement of the PostgreSQL store (decision 95: forkrun_quotas, migration 10), on a
// real PostgreSQL 15: one batch of takes for several organizations is answered take by take in
// the order sent, each seeing the places the takes before it got, and the counters hold exactly
// what was granted; the gives in the same statement are applied first; another member's counts
// count while its lease holds; a statement waiting for an organization's lock gives up before its
// member would.
#include <future>

#include "controller/pg_store.hpp"
#include "http/pg_open_member.hpp"

namespace forkrun::http::test {
namespace {

class PgQuotasTest : public ::testing::Test {
  protected:
    void SetUp() override {
        a_ = open_pg_member(pg_, "a");
        ASSERT_TRUE(a_);
        epoch_a_ = pg_.value("SELECT epoch FROM members WHERE id = 'a'");
    }

    // The answers of one statement of `member`'s, in the order of its takes, joined by "|".
    std::string quotas(const std::string& gives,
                       const std::string& takes,
                       const std::string& member = "a") {
        const std::string epoch =
            pg_.value("SELECT epoch FROM members WHERE id = '" + member + "'");
        return pg_.value("SELECT string_agg(answer, '|' ORDER BY n) FROM forkrun_quotas('" + gives +
                         "', '" + takes + "', '" + member + "', " + epoch +
                         ", 60000) WITH ORDINALITY AS x(answer, n)");
    }

    // "runs/forks" counted for `org` in member `member`'s row.
    std::string counted(const std::string& org, const std::string& member = "a") {
        return pg_.value(
            "SELECT runs || '/' || forks FROM quota_counters WHERE organization_id = '" + org +
            "' AND member_id = '" + member + "'");
    }

    PgServer pg_;
    std::unique_ptr<controller::PgStore> a_;
    std::string epoch_a_;
};

TEST_F(PgQuotasTest, ABatchOfTwoOrganizationsIsAnsweredInOrderEachTakeSeeingTheOnesBefore) {
    // Each take is [organization, forks, max runs, max forks]. o1 may have 3 active runs; o2's
    // runs need 2 forks each, of 3 at most.
    EXPECT_EQ(quotas("[]", R"([["o1",0,3,10],["o2",2,5,3],["o1",0,3,10],["o2",2,5,3],)"
                           R"(["o1",0,3,10],["o1",0,3,10],["o2",1,5,3]])"),
              "ok|ok|ok|forks 2|ok|runs 3|ok");
    EXPECT_EQ(counted("o1"), "3/0");
    EXPECT_EQ(counted("o2"), "2/3");
    // The next batch starts from what the store holds.
    EXPECT_EQ(quotas("[]", R"([["o2",0,2,3],["o1",0,3,10]])"), "runs 2|runs 3");
}

TEST_F(PgQuotasTest, TheGivesOfAStatementAreFreeForItsTakes) {
    ASSERT_EQ(quotas("[]", R"([["o1",2,2,4],["o1",2,2,4]])"), "ok|ok");
    // One run of o1 ends, with its two forks, as another asks for a place: it gets it.
    EXPECT_EQ(quotas(R"([["o1",)" + epoch_a_ + R"(,1,2]])", R"([["o1",2,2,4],["o1",0,2,4]])"),
              "ok|runs 2");
    EXPECT_EQ(counted("o1"), "2/4");
    // A give under another epoch (a process of A's that is gone) changes nothing.
    const std::string gone = std::to_string(std::stoll(epoch_a_) + 1);
    EXPECT_EQ(quotas(R"([["o1",)" + gone + R"(,1,2]])", "[]"), "");
    EXPECT_EQ(counted("o1"), "2/4");
    // Every place given back: the row goes.
    EXPECT_EQ(quotas(R"([["o1",)" + epoch_a_ + R"(,2,4]])", "[]"), "");
    EXPECT_EQ(pg_.value("SELECT count(*) FROM quota_counters"), "0");
}

TEST_F(PgQuotasTest, AnotherMembersPlacesCountWhileItsLeaseHolds) {
    auto b = open_pg_member(pg_, "b");
    ASSERT_TRUE(b);
    ASSERT_EQ(quotas("[]", R"([["o1",0,3,10],["o1",0,3,10]])", "b"), "ok|ok");
    EXPECT_EQ(quotas("[]", R"([["o1",0,3,10],["o1",0,3,10]])"), "ok|runs 3");
    EXPECT_EQ(counted("o1", "b"), "2/0");
    EXPECT_EQ(counted("o1"), "1/0");
    // B's heartbeat is older than the lease: its places no longer count for A.
    pg_.query("UPDATE members SET heartbeat_at = now() - interval '10 minutes' WHERE id = 'b'");
    EXPECT_EQ(quotas("[]", R"([["o1",0,3,10],["o1",0,3,10],["o1",0,3,10]])"), "ok|ok|runs 3");
    EXPECT_EQ(counted("o1"), "3/0");
}

// Another member's statement holding an organization's lock for 4 s: a statement of A's that
// waits for it fails in 2 s, below the 5 s A waits, with nothing of it applied. Before, it waited
// for the lock however long, and committed after A had given up on it and would send its gives
// again.
TEST_F(PgQuotasTest, AStatementWaitingForAnOrganizationsLockGivesUpBeforeItsMember) {
    ASSERT_EQ(quotas("[]", R"([["o1",0,3,10],["o1",0,3,10]])"), "ok|ok");
    std::unique_ptr<PGconn, decltype(&PQfinish)> holder(PQconnectdb(pg_.url().c_str()), PQfinish);
    ASSERT_EQ(PQstatus(holder.get()), CONNECTION_OK);
    PQclear(PQexec(holder.get(),
                   "SELECT pg_advisory_lock(hashtextextended('forkrun quota ' || 'o1', 0))"));
    auto released = std::async(std::launch::async, [&] {
        // Held for 4 s of the test's own: the statement under test must not outwait it.
        std::this_thread::sleep_for(4s);
        holder.reset();
    });
    const auto began = std::chrono::steady_clock::now();
    std::string failed;
    try {
        quotas(R"([["o1",)" + epoch_a_ + R"(,1,0]])", R"([["o1",0,3,10]])");
    } catch (const std::exception& e) {
        failed = e.what();
    }
    const auto waited = std::chrono::steady_clock::now() - began;
    released.get();
    EXPECT_NE(failed.find("lock timeout"), std::string::npos) << failed;
    EXPECT_LT(waited, 4s);
    EXPECT_EQ(counted("o1"), "2/0");
}

}  // namespace
}  // namespace forkrun::http::test
