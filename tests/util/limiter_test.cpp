// Tests for the limiter of spawns in progress: first come first served, never beyond the limit,
// background acquirers behind every other and off the last place, cancel and close.
#include "util/limiter.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <vector>

#include "util/limiter_acquirer.hpp"

namespace forkrun::util {
namespace {

namespace asio = boost::asio;
using test::Acquirer;
using test::hold_place;
using test::run_limiter_until;
using test::run_until_limiter_queued;

TEST(Limiter, BackgroundSpawnsLeaveAPlaceFreeAndWaitBehindEveryRunsSpawn) {
    using Priority = Limiter::Priority;
    asio::io_context io;
    Limiter limiter(3);
    // Two spawns hold places; one made ahead does not take the last.
    Acquirer early[2];
    Acquirer ahead;
    hold_place(io, limiter, early[0]);
    hold_place(io, limiter, early[1]);
    ahead.start(io, limiter, Priority::kBackground);
    run_until_limiter_queued(io, limiter, 1);
    EXPECT_EQ(limiter.spawning(), 2u);

    // A run's spawn takes the place left free at once...
    Acquirer run;
    hold_place(io, limiter, run);
    ASSERT_TRUE(*run.permit);
    EXPECT_EQ(limiter.spawning(), 3u);
    // ...and another run's, queued after the background one, is served before it.
    Acquirer second;
    second.start(io, limiter);
    run_until_limiter_queued(io, limiter, 2);
    early[0].permit->release();
    EXPECT_TRUE(second.finish(io));
    EXPECT_FALSE(ahead.permit.has_value());
    // The background spawn gets a place only while another stays free.
    early[1].permit->release();
    io.restart();
    io.poll();
    EXPECT_FALSE(ahead.permit.has_value()) << "it would have taken the last free place";
    run.permit->release();
    EXPECT_TRUE(ahead.finish(io));
    EXPECT_EQ(limiter.spawning(), 2u);
    EXPECT_EQ(limiter.queued(), 0u);
}

TEST(Limiter, WaitersAreServedInOrderAndNeverBeyondTheLimit) {
    asio::io_context io;
    Limiter limiter(2);
    std::vector<Acquirer> acquirers(5);
    for (auto& a : acquirers) {
        a.start(io, limiter);
    }
    run_limiter_until(io, [&] { return limiter.queued() == 3 && limiter.spawning() == 2; });
    io.poll();
    EXPECT_TRUE(acquirers[0].permit && *acquirers[0].permit);
    EXPECT_TRUE(acquirers[1].permit && *acquirers[1].permit);
    for (std::size_t i = 2; i < 5; ++i) {
        EXPECT_FALSE(acquirers[i].permit) << i;
    }

    acquirers[1].permit->release();
    EXPECT_TRUE(acquirers[2].finish(io));
    EXPECT_FALSE(acquirers[3].permit);

    acquirers[0].permit.reset();  // Destroying a permit gives its place back too.
    EXPECT_TRUE(acquirers[3].finish(io));
    EXPECT_FALSE(acquirers[4].permit);

    acquirers[2].permit->release();
    acquirers[2].permit->release();  // Idempotent: frees one place, not two.
    EXPECT_TRUE(acquirers[4].finish(io));
    EXPECT_EQ(limiter.spawning(), 2u);
    EXPECT_EQ(limiter.queued(), 0u);
    EXPECT_EQ(limiter.granted(), 5u);
    EXPECT_EQ(limiter.peak_spawning(), 2u);
}

TEST(Limiter, ALimitOfZeroIsTakenAsOne) {
    asio::io_context io;
    Limiter limiter(0);
    EXPECT_EQ(limiter.limit(), 1u);
    Acquirer first, second;
    hold_place(io, limiter, first);
    EXPECT_TRUE(*first.permit);
    second.start(io, limiter);
    run_until_limiter_queued(io, limiter, 1);
    EXPECT_EQ(limiter.spawning(), 1u);
    first.permit->release();
    EXPECT_TRUE(second.finish(io));
    EXPECT_FALSE(Permit()) << "a default permit holds nothing";
}

/// A limiter of 1 whose place a holder has taken, so that every other acquire waits.
class SpawnLimiterTest : public ::testing::Test {
  protected:
    void SetUp() override { hold_place(io_, limiter_, holder_); }

    /// Starts each acquirer and runs until they all wait.
    void queue(std::initializer_list<Acquirer*> acquirers) {
        for (auto* a : acquirers) {
            a->start(io_, limiter_);
        }
        run_until_limiter_queued(io_, limiter_, acquirers.size());
    }

    asio::io_context io_;
    Limiter limiter_{1};
    Acquirer holder_;
};

TEST_F(SpawnLimiterTest, CancelledWaiterLeavesTheQueueWithoutAPlace) {
    Acquirer cancelled, next;
    queue({&cancelled, &next});
    cancelled.cancel.emit(asio::cancellation_type::terminal);
    EXPECT_FALSE(cancelled.finish(io_));
    EXPECT_EQ(limiter_.queued(), 1u);
    holder_.permit->release();
    EXPECT_TRUE(next.finish(io_)) << "the next waiter gets the place the cancelled one left";
    EXPECT_EQ(limiter_.granted(), 2u);
}

TEST_F(SpawnLimiterTest, CloseFailsEveryWaiterAndLaterAcquires) {
    Acquirer waiter, late;
    queue({&waiter});
    limiter_.close();
    EXPECT_FALSE(waiter.finish(io_));
    late.start(io_, limiter_);
    EXPECT_FALSE(late.finish(io_));
    EXPECT_TRUE(*holder_.permit);  // Still held; giving it back is harmless.
    holder_.permit.reset();
    EXPECT_EQ(limiter_.spawning(), 0u);
    EXPECT_EQ(limiter_.granted(), 1u);
}

}  // namespace
}  // namespace forkrun::util
