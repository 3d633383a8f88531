// The nonce allocator of the PostgreSQL store (decision 73), two members' stores on one real
// PostgreSQL 15: they never hand out the same nonce, a nonce given back on one goes to the next
// allocation on the other, a stale report reads the chain again without going below what was
// handed out, a member process that is gone has its nonces given back, so does a nonce whose
// take's answer was lost, and a count nobody holds is forgotten. The chain is a counter the test
// sets (what eth_getTransactionCount answers).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <set>
#include <thread>

#include "controller/nonce_book.hpp"
#include "controller/pg_store.hpp"
#include "http/pg_open_member.hpp"

namespace forkrun::http::test {
namespace {

namespace asio = boost::asio;
using controller::NonceAllocator;
using controller::NonceKey;
using controller::NonceOutcome;
using controller::NonceResult;

class PgNoncesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        a_ = open_pg_member(pg_, "a");
        b_ = open_pg_member(pg_, "b");
        ASSERT_TRUE(a_ && b_);
    }

    // Allocates on `member`'s allocator, reading `chain_` when the store asks for the chain.
    std::uint64_t allocate(controller::PgStore& member) {
        NonceAllocator& nonces = *member.nonces();
        auto done = asio::co_spawn(
            ioc_,
            [&]() -> asio::awaitable<NonceResult> {
                // Named: GCC 12 mishandles a temporary in a co_await.
                const controller::PendingCount read = [this]() -> asio::awaitable<NonceResult> {
                    ++chain_reads_;
                    co_return chain_;
                };
                co_return co_await nonces.allocate(key_, read);
            },
            asio::use_future);
        ioc_.restart();
        ioc_.run();
        auto r = done.get();
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        return r ? *r : ~std::uint64_t{0};
    }

    // Settles, then waits until the store has applied it: the nonce is no longer held by
    // `member` (its own later allocations would see it anyway: it sends its statements in
    // order; the other member's need not).
    void settle(controller::PgStore& member,
                const std::string& id,
                std::uint64_t nonce,
                NonceOutcome outcome) {
        member.nonces()->settle(key_, nonce, outcome);
        const std::string held =
            "SELECT count(*) FROM nonce_allocations WHERE nonce = " + std::to_string(nonce) +
            " AND held AND member_id = '" + id + "'";
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (pg_.value(held) != "0" && std::chrono::steady_clock::now() < deadline) {
            // Polling a condition against a deadline.
            std::this_thread::sleep_for(5ms);
        }
        ASSERT_EQ(pg_.value(held), "0") << "the settle of " << nonce << " never landed";
    }

    PgServer pg_;
    std::unique_ptr<controller::PgStore> a_;
    std::unique_ptr<controller::PgStore> b_;
    asio::io_context ioc_;
    const NonceKey key_{"0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 1};
    std::uint64_t chain_ = 7;
    int chain_reads_ = 0;
};

TEST_F(PgNoncesTest, TwoMembersHandOutDistinctConsecutiveNonces) {
    // Twenty allocations at once, ten on each member: each member's statements go out on its
    // own connection, so the two race in the database.
    std::vector<std::future<NonceResult>> pending;
    for (int i = 0; i < 20; ++i) {
        NonceAllocator* nonces = (i % 2 == 0 ? a_ : b_)->nonces();
        pending.push_back(asio::co_spawn(
            ioc_,
            [this, nonces]() -> asio::awaitable<NonceResult> {
                const controller::PendingCount read = [this]() -> asio::awaitable<NonceResult> {
                    co_return chain_;
                };
                co_return co_await nonces->allocate(key_, read);
            },
            asio::use_future));
    }
    ioc_.run();
    std::set<std::uint64_t> got;
    for (auto& f : pending) {
        auto r = f.get();
        ASSERT_TRUE(r) << r.error().message;
        got.insert(*r);
    }
    ASSERT_EQ(got.size(), 20u) << "two allocations shared a nonce";
    EXPECT_EQ(*got.begin(), 7u);
    EXPECT_EQ(*got.rbegin(), 26u);
    EXPECT_EQ(pg_.value("SELECT count(*) FROM nonce_allocations WHERE held"), "20");
    for (auto n : got) {
        // Which member took which does not matter to the store: settled by their holders.
        const auto holder =
            pg_.value("SELECT member_id FROM nonce_allocations WHERE nonce = " + std::to_string(n));
        settle(holder == "a" ? *a_ : *b_, holder, n, NonceOutcome::kSent);
    }
    // None out: the count is forgotten, so the next allocation reads the chain again.
    EXPECT_EQ(pg_.value("SELECT count(*) FROM nonce_counters"), "0");
    chain_ = 27;
    EXPECT_EQ(allocate(*b_), 27u);
    EXPECT_EQ(chain_reads_, 1);
}

TEST_F(PgNoncesTest, ANonceGivenBackOnOneMemberGoesToTheNextAllocationOnTheOther) {
    const auto first = allocate(*a_);
    const auto second = allocate(*b_);
    EXPECT_EQ(first, 7u);
    EXPECT_EQ(second, 8u);
    settle(*a_, "a", first, NonceOutcome::kUnsent);
    // B's next transaction fills the hole instead of leaving it to hold later ones back.
    EXPECT_EQ(allocate(*b_), 7u);
    EXPECT_EQ(allocate(*a_), 9u);
    EXPECT_EQ(chain_reads_, 1);
}

TEST_F(PgNoncesTest, AStaleReportReadsTheChainAgainButNeverHandsOutLess) {
    EXPECT_EQ(allocate(*a_), 7u);
    const auto held = allocate(*b_);
    EXPECT_EQ(held, 8u);
    // The chain says 7 is taken (sent with this key from elsewhere): read it again.
    settle(*a_, "a", 7, NonceOutcome::kStale);
    chain_ = 5;  // behind what is out: the count is not lowered
    EXPECT_EQ(allocate(*a_), 9u);
    EXPECT_EQ(chain_reads_, 2);
    chain_ = 20;  // ahead (sent from elsewhere): the count is raised
    settle(*b_, "b", held, NonceOutcome::kStale);
    EXPECT_EQ(allocate(*b_), 20u);
    EXPECT_EQ(chain_reads_, 3);
}

TEST_F(PgNoncesTest, AGoneMembersNoncesAreGivenBack) {
    EXPECT_EQ(allocate(*a_), 7u);
    EXPECT_EQ(allocate(*b_), 8u);
    // A is restarted (or taken over): its epoch moves on, and what its old process held is
    // given back to the next allocation.
    a_.reset();
    a_ = open_pg_member(pg_, "a");
    ASSERT_TRUE(a_);
    EXPECT_EQ(allocate(*b_), 7u);
    EXPECT_EQ(allocate(*a_), 9u);
    // The old process's settle, had it come, would not touch what B now holds.
    EXPECT_EQ(pg_.value("SELECT member_id FROM nonce_allocations WHERE nonce = 7"), "b");
}

TEST_F(PgNoncesTest, ANonceWhoseAnswerWasLostIsGivenBackToTheNextTake) {
    EXPECT_EQ(allocate(*a_), 7u);
    // A take of A's that committed while its answer never reached A (the connection dropped
    // after the commit): the store holds 8 for A's process, which does not know it has it.
    const std::string epoch = pg_.value("SELECT epoch FROM members WHERE id = 'a'");
    ASSERT_EQ(
        pg_.value("SELECT forkrun_take_nonce('" + key_.signer + "', 1, 'a', " + epoch + ", NULL)"),
        "8");
    // A's next transaction gets 8, not 9: no gap holds its later transactions back. What A
    // does hold (7) stays its own.
    EXPECT_EQ(allocate(*a_), 8u);
    EXPECT_EQ(pg_.value("SELECT string_agg(nonce::text, ',' ORDER BY nonce) FROM "
                        "nonce_allocations WHERE held AND member_id = 'a'"),
              "7,8");
    // Another member's take does not give back what A's process holds.
    EXPECT_EQ(allocate(*b_), 9u);
    settle(*a_, "a", 7, NonceOutcome::kSent);
    EXPECT_EQ(allocate(*a_), 10u);
    EXPECT_EQ(pg_.value("SELECT string_agg(nonce::text, ',' ORDER BY nonce) FROM "
                        "nonce_allocations WHERE held"),
              "8,9,10");
}

}  // namespace
}  // namespace forkrun::http::test
