// The spawn cap: a util::Limiter's order and counts, then real anvils spawned through it (a cap
// of 1 is never exceeded, a cancelled or shut-out spawn never starts a process).
#include "util/limiter.hpp"

#include "forks/anvil_process.hpp"
#include "forks/fork_manager.hpp"
#include "forks/test_anvil.hpp"
#include "util/limiter_acquirer.hpp"

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
using util::test::Acquirer;
using util::test::hold_place;
using util::test::run_limiter_until;
using util::test::run_until_limiter_queued;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kBound = 120s;  // Only a bug comes near it; the machine is shared.

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
    hold_place(io_, *limiter_, holder);
    const auto before = test::child_pids();
    Spawn spawn;
    start(spawn);
    run_until_limiter_queued(io_, *limiter_, 1);

    spawn.cancel.emit(asio::cancellation_type::terminal);
    run_limiter_until(io_, [&] { return spawn.result.has_value(); });
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
    hold_place(io_, *limiter_, holder);
    const auto before = test::child_pids();
    std::vector<Spawn> spawns(3);
    for (auto& s : spawns) {
        start(s);
    }
    run_until_limiter_queued(io_, *limiter_, 3);

    limiter_->close();
    run_limiter_until(io_, [&] {
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
    run_limiter_until(io_, [&] {
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
