// The spawn cap: a util::Limiter's order and counts, then real anvils spawned through it (a cap
// of 1 is never exceeded, a cancelled or shut-out spawn never starts a process).
#include "util/limiter.hpp"

#include "forks/anvil_process.hpp"
#include "forks/fork_manager.hpp"
#include "forks/test_anvil.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <initializer_list>
#include <optional>
#include <set>
#include <thread>
#include <vector>

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kBound = 120s;  // Only a bug comes near it; the machine is shared.

/// Runs handlers on the test's thread until `done` holds; fails the test at kBound.
void run_until(asio::io_context& io, const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kBound;
    io.restart();
    while (!done()) {
        ASSERT_LT(Clock::now(), deadline) << "the condition did not hold within the bound";
        io.run_one_for(100ms);
    }
}

/// Acquires from `limiter` in a coroutine of its own; `permit` is set once it completes.
struct Acquirer {
    std::optional<util::Permit> permit;
    asio::cancellation_signal cancel;

    void start(asio::io_context& io,
               util::Limiter& limiter,
               util::Limiter::Priority priority = util::Limiter::Priority::kNow) {
        asio::co_spawn(io, limiter.acquire(priority),
                       asio::bind_cancellation_slot(cancel.slot(),
                                                    [this](std::exception_ptr e, util::Permit p) {
                                                        ASSERT_FALSE(e);
                                                        permit = std::move(p);
                                                    }));
    }

    /// Runs `io` until the acquire has completed; then its permit (empty: refused).
    util::Permit& finish(asio::io_context& io) {
        run_until(io, [this] { return permit.has_value(); });
        return *permit;
    }
};

/// Starts `holder` and runs until it has its place.
void hold(asio::io_context& io, util::Limiter& limiter, Acquirer& holder) {
    holder.start(io, limiter);
    holder.finish(io);
}

/// Runs until `count` acquirers wait for a place.
void run_until_queued(asio::io_context& io, const util::Limiter& limiter, std::size_t count) {
    run_until(io, [&] { return limiter.queued() == count; });
}

TEST(Limiter, BackgroundSpawnsLeaveAPlaceFreeAndWaitBehindEveryRunsSpawn) {
    using Priority = util::Limiter::Priority;
    asio::io_context io;
    util::Limiter limiter(3);
    // Two spawns hold places; one made ahead does not take the last.
    Acquirer early[2];
    Acquirer ahead;
    hold(io, limiter, early[0]);
    hold(io, limiter, early[1]);
    ahead.start(io, limiter, Priority::kBackground);
    run_until_queued(io, limiter, 1);
    EXPECT_EQ(limiter.spawning(), 2u);

    // A run's spawn takes the place left free at once...
    Acquirer run;
    hold(io, limiter, run);
    ASSERT_TRUE(*run.permit);
    EXPECT_EQ(limiter.spawning(), 3u);
    // ...and another run's, queued after the background one, is served before it.
    Acquirer second;
    second.start(io, limiter);
    run_until_queued(io, limiter, 2);
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
    util::Limiter limiter(2);
    std::vector<Acquirer> acquirers(5);
    for (auto& a : acquirers) {
        a.start(io, limiter);
    }
    run_until(io, [&] { return limiter.queued() == 3 && limiter.spawning() == 2; });
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

/// A limiter of 1 whose place a holder has taken, so that every other acquire waits.
class SpawnLimiterTest : public ::testing::Test {
  protected:
    void SetUp() override { hold(io_, limiter_, holder_); }

    /// Starts each acquirer and runs until they all wait.
    void queue(std::initializer_list<Acquirer*> acquirers) {
        for (auto* a : acquirers) {
            a->start(io_, limiter_);
        }
        run_until_queued(io_, limiter_, acquirers.size());
    }

    asio::io_context io_;
    util::Limiter limiter_{1};
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

class SpawnLimitAnvilTest : public ::testing::Test {
  protected:
    void SetUp() override {
        options_.anvil_path = test::anvil_binary();
        if (!std::filesystem::exists(options_.anvil_path)) {
            GTEST_SKIP() << "anvil not found at " << options_.anvil_path;
        }
        options_.start_timeout = 90s;  // The machine is shared with parallel builds.
        options_.spawn_limiter = limiter_;
    }

    /// Spawns on the test's thread; `result` is set once the spawn completes.
    struct Spawn {
        std::optional<AnvilProcess::SpawnResult> result;
        asio::cancellation_signal cancel;
    };

    void start(Spawn& spawn) {
        asio::co_spawn(
            io_, AnvilProcess::spawn(options_),
            asio::bind_cancellation_slot(
                spawn.cancel.slot(), [&spawn](std::exception_ptr e, AnvilProcess::SpawnResult r) {
                    ASSERT_FALSE(e);
                    spawn.result = std::move(r);
                }));
    }

    asio::io_context io_;
    std::shared_ptr<util::Limiter> limiter_ = std::make_shared<util::Limiter>(1);
    AnvilOptions options_;
};

TEST_F(SpawnLimitAnvilTest, CancelledQueuedSpawnStartsNoProcess) {
    Acquirer holder;  // Takes the only place, so the spawn has to queue.
    hold(io_, *limiter_, holder);
    const auto before = test::child_pids();
    Spawn spawn;
    start(spawn);
    run_until_queued(io_, *limiter_, 1);

    spawn.cancel.emit(asio::cancellation_type::terminal);
    run_until(io_, [&] { return spawn.result.has_value(); });
    ASSERT_FALSE(*spawn.result);
    EXPECT_EQ(spawn.result->error().code, AnvilErrc::kCancelled);
    EXPECT_NE(spawn.result->error().message.find("no process was started"), std::string::npos)
        << spawn.result->error().message;
    EXPECT_EQ(limiter_->queued(), 0u);
    EXPECT_EQ(limiter_->granted(), 1u) << "only the holder ever had a place";
    EXPECT_EQ(test::child_pids(), before);
}

TEST_F(SpawnLimitAnvilTest, ClosingTheLimiterDropsQueuedSpawnsAtOnce) {
    Acquirer holder;
    hold(io_, *limiter_, holder);
    const auto before = test::child_pids();
    std::vector<Spawn> spawns(3);
    for (auto& s : spawns) {
        start(s);
    }
    run_until_queued(io_, *limiter_, 3);

    limiter_->close();
    run_until(io_, [&] {
        return std::all_of(spawns.begin(), spawns.end(),
                           [](const Spawn& s) { return s.result.has_value(); });
    });
    for (const auto& s : spawns) {
        ASSERT_FALSE(*s.result);
        EXPECT_EQ(s.result->error().code, AnvilErrc::kCancelled);
        EXPECT_NE(s.result->error().message.find("shutting down"), std::string::npos)
            << s.result->error().message;
    }
    EXPECT_EQ(limiter_->granted(), 1u);
    EXPECT_EQ(test::child_pids(), before);
}

TEST_F(SpawnLimitAnvilTest, SpawnsBeyondACapOfOneAllComeUpOneAtATime) {
    constexpr std::size_t kCount = 4;
    std::vector<Spawn> spawns(kCount);
    for (std::size_t i = 0; i < kCount; ++i) {
        options_.chain_id = 2000 + i;
        start(spawns[i]);
    }
    run_until(io_, [&] {
        return std::all_of(spawns.begin(), spawns.end(),
                           [](const Spawn& s) { return s.result.has_value(); });
    });
    std::set<std::uint16_t> ports;
    for (auto& s : spawns) {
        ASSERT_TRUE(*s.result) << s.result->error().message;
        EXPECT_TRUE((**s.result)->running());
        ports.insert((**s.result)->port());
    }
    EXPECT_EQ(ports.size(), kCount);
    EXPECT_EQ(limiter_->granted(), kCount);
    EXPECT_EQ(limiter_->peak_spawning(), 1u);
    EXPECT_EQ(limiter_->spawning(), 0u) << "a listening anvil holds no place";
}

/// ForkManager with a cap of 1: run forks and a warm pool share it, and every fork comes up.
class ForkManagerSpawnLimitTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(test::anvil_binary())) {
            GTEST_SKIP() << "anvil not found at " << test::anvil_binary();
        }
        auto cu = CuTable::load_file(FORKRUN_SOURCE_DIR "/fixtures/cu/alchemy-2026-11.json");
        ASSERT_TRUE(cu) << cu.error().message;
        ForksConfig config;
        config.anvil_path = test::anvil_binary();
        config.fork_start_timeout = 90s;
        config.lease_timeout = 90s;
        config.fork_spawn_limit = 1;
        config.spawn_ahead = 0;  // the grants counted below are the runs' and the pool's
        config.chains[kPoolChain].pool_size = 2;
        config.chains[kForkChain].pool_size = 0;
        // One long-lived thread runs the io_context: forks die with the thread that spawned them.
        thread_ = std::thread([this] { io_.run(); });
        manager_.emplace(io_.get_executor(), std::move(config), std::move(*cu));
        ASSERT_TRUE(run(manager_->start()));
    }

    void TearDown() override {
        if (manager_) {
            run(manager_->shutdown());
            manager_.reset();
        }
        work_.reset();
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    template <typename T>
    T run(asio::awaitable<T> task) {
        auto future = asio::co_spawn(io_, std::move(task), asio::use_future);
        if (future.wait_for(kBound) != std::future_status::ready) {
            ADD_FAILURE() << "a fork operation did not complete within the bound";
            std::abort();
        }
        return future.get();
    }

    static constexpr std::uint64_t kForkChain = 31337;
    static constexpr std::uint64_t kPoolChain = 8453;

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
    std::thread thread_;
    std::optional<ForkManager> manager_;
};

TEST_F(ForkManagerSpawnLimitTest, RunForksAndPoolForksRequestedAtOnceAllComeUpOneSpawnAtATime) {
    constexpr std::size_t kForks = 3;
    using Opened = boost::system::result<ForkHandle, ForkError>;
    std::vector<std::future<Opened>> opening;
    for (std::size_t i = 0; i < kForks; ++i) {
        opening.push_back(
            asio::co_spawn(io_, manager_->open_fork(kForkChain, [](auto) {}), asio::use_future));
    }
    for (std::size_t i = 0; i < 2; ++i) {
        opening.push_back(
            asio::co_spawn(io_, manager_->lease_fork(kPoolChain, [](auto) {}), asio::use_future));
    }
    std::vector<std::shared_ptr<ForkHandle>> forks;
    for (auto& f : opening) {
        ASSERT_EQ(f.wait_for(kBound), std::future_status::ready);
        auto opened = f.get();
        ASSERT_TRUE(opened) << opened.error().message;
        forks.push_back(std::make_shared<ForkHandle>(std::move(*opened)));
    }
    const auto& limiter = manager_->spawn_limiter();
    EXPECT_EQ(limiter.limit(), 1u);
    EXPECT_EQ(limiter.granted(), kForks + 2);
    EXPECT_EQ(limiter.peak_spawning(), 1u);
    EXPECT_EQ(limiter.queued(), 0u);
    for (auto& fork : forks) {
        const auto released = run(manager_->release(fork, [](auto) {}));
        EXPECT_TRUE(released.ok()) << released.message;
    }
}

}  // namespace
}  // namespace forkrun::forks
