// ForkPool against real anvil processes: filling, leases that are reverted between users,
// waiting, timeouts, cancellation, dead forks, an upstream fork, shutdown and lease latency.
#include "forks/fork_pool.hpp"

#include "forks/test_anvil.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kChain = 8453;
constexpr auto kReady = 90s;  // The machine is shared with parallel builds.
constexpr const char* kAddress = "0x00000000000000000000000000000000000f0a11";

/// Records the methods a MethodMeter was called with; safe from any thread.
class MeterLog {
  public:
    MethodMeter meter() {
        return [this](std::string_view method) {
            std::lock_guard lock(mutex_);
            methods_.emplace_back(method);
        };
    }
    std::vector<std::string> methods() const {
        std::lock_guard lock(mutex_);
        return methods_;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::string> methods_;
};

using test::child_pids;
using test::process_gone;

double p50_ms(std::vector<Clock::duration> samples) {
    std::sort(samples.begin(), samples.end());
    return std::chrono::duration<double, std::milli>(samples[samples.size() / 2]).count();
}

double p90_ms(std::vector<Clock::duration> samples) {
    std::sort(samples.begin(), samples.end());
    return std::chrono::duration<double, std::milli>(samples[samples.size() * 9 / 10]).count();
}

class ForkPoolTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!std::filesystem::exists(test::anvil_binary())) {
            GTEST_SKIP() << "anvil not found at " << test::anvil_binary();
        }
        // One long-lived thread runs the io_context: the forks die with the thread that spawned
        // them.
        thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        for (auto& pool : pools_) {
            run(pool->shutdown());
        }
        pools_.clear();
        work_.reset();
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    std::shared_ptr<ForkPool> make_pool(ForkSpec spec,
                                        std::size_t size,
                                        ForkPoolOptions options = {}) {
        auto pool =
            std::make_shared<ForkPool>(io_.get_executor(), rpc_, std::move(spec), size, options);
        pools_.push_back(pool);
        pool->start();
        return pool;
    }

    static ForkSpec fresh_chain() {
        ForkSpec spec;
        spec.anvil_path = test::anvil_binary();
        spec.chain_id = kChain;
        return spec;
    }

    /// Runs `task` on the io_context thread and waits for it (bounded, so a bug fails, not hangs).
    template <typename T>
    T run(asio::awaitable<T> task) {
        auto future = asio::co_spawn(io_, std::move(task), asio::use_future);
        if (future.wait_for(120s) != std::future_status::ready) {
            ADD_FAILURE() << "a pool operation did not complete within 120 s";
            std::abort();
        }
        return future.get();
    }

    /// Waits until `condition` holds, up to `limit`.
    static bool eventually(const std::function<bool()>& condition, Clock::duration limit = kReady) {
        const auto deadline = Clock::now() + limit;
        while (!condition()) {
            if (Clock::now() >= deadline) {
                return false;
            }
            std::this_thread::sleep_for(5ms);
        }
        return true;
    }

    /// A direct JSON-RPC call, as a client of the lease would make it.
    RpcResult rpc(const std::string& url,
                  const std::string& method,
                  boost::json::array params = {}) {
        std::promise<RpcResult> promise;
        rpc_.call(RpcRequest{url, method, std::move(params), 10s, "test"},
                  [&promise](RpcResult r) { promise.set_value(std::move(r)); });
        return promise.get_future().get();
    }

    std::string balance(const std::string& url) {
        auto r = rpc(url, "eth_getBalance", {kAddress, "latest"});
        return r ? boost::json::serialize(*r) : "error: " + r.error().message;
    }

    PoolLease acquire_ok(ForkPool& pool, MethodMeter meter = {}) {
        auto lease = run(pool.acquire(30s, std::move(meter)));
        if (!lease) {
            ADD_FAILURE() << "acquire failed: " << lease.error().message;
            return {};
        }
        return *lease;
    }

    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
    std::thread thread_;
    RpcClient rpc_;
    std::vector<std::shared_ptr<ForkPool>> pools_;
};

TEST_F(ForkPoolTest, FillsAndLeaseServesTheChainAndIsMetered) {
    auto pool = make_pool(fresh_chain(), 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; })) << "idle " << pool->idle();
    EXPECT_EQ(pool->size(), 2u);

    MeterLog log;
    const auto lease = acquire_ok(*pool, log.meter());
    EXPECT_EQ(pool->idle(), 1u);
    EXPECT_FALSE(lease.snapshot_id.empty());
    auto chain_id = rpc(lease.url, "eth_chainId");
    ASSERT_TRUE(chain_id) << chain_id.error().message;
    EXPECT_EQ(*chain_id, "0x2105");

    const auto released = run(pool->release(lease, log.meter()));
    EXPECT_TRUE(released.ok()) << released.message;
    EXPECT_TRUE(released.reverted);
    EXPECT_FALSE(released.destroyed);
    EXPECT_EQ(pool->idle(), 2u);
    EXPECT_EQ(log.methods(), (std::vector<std::string>{"evm_snapshot", "evm_revert"}));

    const auto twice = run(pool->release(lease, log.meter()));
    EXPECT_FALSE(twice.ok());
    EXPECT_EQ(twice.code, PoolErrc::kNotLeased);
    EXPECT_NE(twice.message.find("no outstanding lease"), std::string::npos) << twice.message;
    EXPECT_EQ(pool->idle(), 2u);
}

TEST_F(ForkPoolTest, WhatALeaseChangedIsRevertedBeforeTheNextLease) {
    auto pool = make_pool(fresh_chain(), 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));

    const auto first = acquire_ok(*pool);
    const auto original = balance(first.url);
    ASSERT_TRUE(rpc(first.url, "anvil_setBalance", {kAddress, "0x1234567890"}));
    ASSERT_EQ(balance(first.url), "\"0x1234567890\"");
    ASSERT_TRUE(run(pool->release(first, {})).ok());

    // Lease both forks: one of them is the fork the first lease changed.
    const auto a = acquire_ok(*pool);
    const auto b = acquire_ok(*pool);
    const auto& same = a.fork_serial == first.fork_serial ? a : b;
    ASSERT_EQ(same.fork_serial, first.fork_serial);
    EXPECT_EQ(same.url, first.url);
    EXPECT_EQ(balance(same.url), original);
    EXPECT_TRUE(run(pool->release(a, {})).ok());
    EXPECT_TRUE(run(pool->release(b, {})).ok());
}

// A setting evm_revert does not undo, changed on the fork itself (not through the policy): the
// fingerprint catches it and the fork is replaced, never lent again.
TEST_F(ForkPoolTest, AReleaseThatCannotProveTheForkCleanDestroysIt) {
    auto pool = make_pool(fresh_chain(), 1);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    const auto poisoned = acquire_ok(*pool);
    ASSERT_TRUE(rpc(poisoned.url, "anvil_setChainId", {999}));
    const auto released = run(pool->release(poisoned, {}));
    EXPECT_FALSE(released.ok());
    EXPECT_TRUE(released.reverted) << "evm_revert answered true, which proves nothing";
    EXPECT_TRUE(released.destroyed);
    EXPECT_NE(released.message.find("chainId"), std::string::npos) << released.message;
    EXPECT_EQ(released.code, PoolErrc::kNotRestored);

    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    const auto next = acquire_ok(*pool);
    EXPECT_NE(next.fork_serial, poisoned.fork_serial);
    EXPECT_EQ(boost::json::serialize(*rpc(next.url, "eth_chainId")), "\"0x2105\"");
    EXPECT_TRUE(run(pool->release(next, {})).ok());
}

// anvil_reset restarts the snapshot ids, so fresh snapshots re-create the lease's id and its
// evm_revert answers true: the instance id shows the reset.
TEST_F(ForkPoolTest, AResetAndReSnapshotIsCaughtDespiteARevertThatAnswersTrue) {
    auto pool = make_pool(fresh_chain(), 1);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    const auto lease = acquire_ok(*pool);
    ASSERT_TRUE(rpc(lease.url, "anvil_reset"));
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(rpc(lease.url, "evm_snapshot"));
    }
    const auto released = run(pool->release(lease, {}));
    EXPECT_TRUE(released.reverted);
    EXPECT_FALSE(released.ok());
    EXPECT_TRUE(released.destroyed);
}

TEST_F(ForkPoolTest, MinedBlocksAndQueuedTransactionsAreSetBackAndTheForkReused) {
    auto pool = make_pool(fresh_chain(), 1);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    const auto first = acquire_ok(*pool);
    const auto gas_price = boost::json::serialize(*rpc(first.url, "eth_gasPrice"));
    const char* dev0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(rpc(first.url, "eth_sendTransaction",
                        {boost::json::object{{"from", dev0}, {"to", kAddress}, {"value", "0x1"}}}));
    }
    ASSERT_TRUE(rpc(first.url, "anvil_mine", {"0x10"}));
    ASSERT_TRUE(rpc(first.url, "eth_sendTransaction",
                    {boost::json::object{
                        {"from", dev0}, {"to", kAddress}, {"value", "0x1"}, {"nonce", "0x9"}}}));
    ASSERT_NE(boost::json::serialize(*rpc(first.url, "eth_gasPrice")), gas_price);

    const auto released = run(pool->release(first, {}));
    EXPECT_TRUE(released.ok()) << released.message;
    EXPECT_FALSE(released.destroyed);
    const auto again = acquire_ok(*pool);
    EXPECT_EQ(again.fork_serial, first.fork_serial);
    EXPECT_EQ(boost::json::serialize(*rpc(again.url, "eth_gasPrice")), gas_price);
    const auto pool_status = rpc(again.url, "txpool_status");
    EXPECT_EQ(boost::json::serialize(*pool_status), R"({"pending":"0x0","queued":"0x0"})");
    EXPECT_TRUE(run(pool->release(again, {})).ok());
}

TEST_F(ForkPoolTest, ALeaseThatIsNotReusableIsDestroyedWithoutARevert) {
    auto pool = make_pool(fresh_chain(), 1);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    MeterLog log;
    const auto lease = acquire_ok(*pool, log.meter());
    const auto released = run(pool->release(lease, log.meter(), false));
    EXPECT_TRUE(released.ok());
    EXPECT_TRUE(released.destroyed);
    EXPECT_FALSE(released.reverted);
    EXPECT_EQ(released.method, TeardownMethod::kDestroy);
    EXPECT_EQ(log.methods(), (std::vector<std::string>{"evm_snapshot"}));
    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    EXPECT_NE(acquire_ok(*pool).fork_serial, lease.fork_serial);
}

TEST_F(ForkPoolTest, ALeaseIsHandedOutWithoutWaitingOnAnvil) {
    // The snapshot of a fork's next lease is taken while it is idle, so a lease makes no anvil
    // call: a fork that cannot answer at this moment (stopped) is still lent at once, and the
    // lease's snapshot is the one anvil holds.
    ForkPoolOptions options;
    options.call_timeout = 600s;  // a call to the stopped fork would outlast the test
    auto pool = make_pool(fresh_chain(), 1, options);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    const auto first = acquire_ok(*pool);
    ASSERT_TRUE(run(pool->release(first, {})).ok());
    auto open_snapshots = [&] {
        auto meta = rpc(first.url, "anvil_metadata");
        return meta && meta->is_object() ? meta->as_object().at("snapshots").as_object().size()
                                         : std::size_t{0};
    };
    ASSERT_TRUE(eventually([&] { return open_snapshots() == 1; }));

    ASSERT_EQ(::kill(first.pid, SIGSTOP), 0);
    MeterLog log;
    auto lease = asio::co_spawn(io_, pool->acquire(30s, log.meter()), asio::use_future);
    const bool lent = lease.wait_for(60s) == std::future_status::ready;
    ASSERT_EQ(::kill(first.pid, SIGCONT), 0);
    ASSERT_TRUE(lent) << "the lease waited on the stopped fork";
    auto got = lease.get();
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->fork_serial, first.fork_serial);
    EXPECT_EQ(log.methods(), (std::vector<std::string>{"evm_snapshot"})) << "billed as before";
    const auto meta = rpc(got->url, "anvil_metadata");
    ASSERT_TRUE(meta) << meta.error().message;
    EXPECT_TRUE(meta->as_object().at("snapshots").as_object().contains(got->snapshot_id))
        << boost::json::serialize(*meta);
    EXPECT_TRUE(run(pool->release(*got, {})).ok());
}

TEST_F(ForkPoolTest, WaitersGetReleasedForksInOrder) {
    auto pool = make_pool(fresh_chain(), 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));
    const auto a = acquire_ok(*pool);
    const auto b = acquire_ok(*pool);

    auto first = asio::co_spawn(io_, pool->acquire(60s, {}), asio::use_future);
    ASSERT_TRUE(eventually([&] { return pool->waiting() == 1; }, 30s));
    auto second = asio::co_spawn(io_, pool->acquire(60s, {}), asio::use_future);
    ASSERT_TRUE(eventually([&] { return pool->waiting() == 2; }, 30s));
    EXPECT_EQ(first.wait_for(0s), std::future_status::timeout);

    // Released by another coroutine.
    std::promise<PoolRelease> released;
    asio::co_spawn(io_, pool->release(b, {}),
                   [&released](std::exception_ptr, PoolRelease r) { released.set_value(r); });
    EXPECT_TRUE(released.get_future().get().ok());

    ASSERT_EQ(first.wait_for(30s), std::future_status::ready);
    auto got = first.get();
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->fork_serial, b.fork_serial);
    EXPECT_EQ(second.wait_for(0s), std::future_status::timeout);

    EXPECT_TRUE(run(pool->release(a, {})).ok());
    ASSERT_EQ(second.wait_for(30s), std::future_status::ready);
    auto got2 = second.get();
    ASSERT_TRUE(got2) << got2.error().message;
    EXPECT_EQ(got2->fork_serial, a.fork_serial);
    EXPECT_TRUE(run(pool->release(*got, {})).ok());
    EXPECT_TRUE(run(pool->release(*got2, {})).ok());
    EXPECT_EQ(pool->idle(), 2u);
}

TEST_F(ForkPoolTest, AcquireTimesOutWithAClearMessage) {
    auto pool = make_pool(fresh_chain(), 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));
    const auto a = acquire_ok(*pool);
    const auto b = acquire_ok(*pool);

    const auto started = Clock::now();
    const auto r = run(pool->acquire(300ms, {}));
    const auto waited = Clock::now() - started;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, PoolErrc::kLeaseTimeout);
    EXPECT_EQ(r.error().message,
              "no warm fork of chain 8453 became free within 300 ms (pool size 2)");
    EXPECT_GE(waited, 300ms);
    EXPECT_LT(waited, 10s);

    EXPECT_TRUE(run(pool->release(a, {})).ok());
    EXPECT_TRUE(run(pool->release(b, {})).ok());
}

TEST_F(ForkPoolTest, CancelledWaiterLeavesTheQueue) {
    auto pool = make_pool(fresh_chain(), 1);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    const auto a = acquire_ok(*pool);

    asio::cancellation_signal cancel;
    std::promise<std::string> outcome;
    asio::co_spawn(io_, pool->acquire(60s, {}),
                   asio::bind_cancellation_slot(
                       cancel.slot(), [&outcome](std::exception_ptr e, ForkPool::AcquireResult r) {
                           outcome.set_value(e ? "exception" : r ? "lease" : r.error().message);
                       }));
    auto future = outcome.get_future();
    ASSERT_TRUE(eventually([&] { return pool->waiting() == 1; }, 30s));
    asio::post(io_, [&cancel] { cancel.emit(asio::cancellation_type::terminal); });
    ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
    EXPECT_EQ(future.get(), "acquiring a fork of chain 8453 was cancelled");
    EXPECT_EQ(pool->waiting(), 0u);

    // The released fork is idle, not handed to the cancelled waiter.
    EXPECT_TRUE(run(pool->release(a, {})).ok());
    EXPECT_EQ(pool->idle(), 1u);
    const auto again = acquire_ok(*pool);
    EXPECT_EQ(again.fork_serial, a.fork_serial);
    EXPECT_TRUE(run(pool->release(again, {})).ok());
}

TEST_F(ForkPoolTest, AcquireThatLosesARaceWithATimerLeavesNothingBehind) {
    using namespace asio::experimental::awaitable_operators;
    auto pool = make_pool(fresh_chain(), 1);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 1; }));
    const auto a = acquire_ok(*pool);

    auto race = [&]() -> asio::awaitable<bool> {
        asio::steady_timer timer(co_await asio::this_coro::executor, 200ms);
        auto winner = co_await (pool->acquire(60s, {}) || timer.async_wait(asio::use_awaitable));
        co_return winner.index() == 1;
    };
    EXPECT_TRUE(run(race()));
    EXPECT_EQ(pool->waiting(), 0u);
    EXPECT_TRUE(run(pool->release(a, {})).ok());
    EXPECT_EQ(pool->idle(), 1u);
}

TEST_F(ForkPoolTest, ForkKilledWhileLeasedFailsReleaseAndIsReplaced) {
    auto pool = make_pool(fresh_chain(), 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));
    const auto lease = acquire_ok(*pool);
    ASSERT_GT(lease.pid, 0);
    ASSERT_EQ(::kill(lease.pid, SIGKILL), 0);

    const auto released = run(pool->release(lease, {}));
    EXPECT_FALSE(released.ok());
    EXPECT_FALSE(released.reverted);
    EXPECT_TRUE(released.destroyed);
    EXPECT_FALSE(released.message.empty());
    // Seen dead before the revert, or as the revert's failed call: which one is a race.
    EXPECT_TRUE(released.code == PoolErrc::kForkDied || released.code == PoolErrc::kRevertFailed)
        << released.code.message();
    std::cout << "[ release of a killed fork ] " << released.message << "\n";

    ASSERT_TRUE(eventually([&] { return pool->idle() == 2 && pool->size() == 2; }))
        << "idle " << pool->idle() << " size " << pool->size();
    EXPECT_TRUE(eventually([&] { return process_gone(lease.pid); }, 10s));
    const auto a = acquire_ok(*pool);
    const auto b = acquire_ok(*pool);
    EXPECT_NE(a.fork_serial, lease.fork_serial);
    EXPECT_NE(b.fork_serial, lease.fork_serial);
    EXPECT_TRUE(run(pool->release(a, {})).ok());
    EXPECT_TRUE(run(pool->release(b, {})).ok());
}

TEST_F(ForkPoolTest, ForkThatDiesWhileIdleIsReplaced) {
    auto pool = make_pool(fresh_chain(), 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));
    const auto lease = acquire_ok(*pool);
    ASSERT_TRUE(run(pool->release(lease, {})).ok());
    ASSERT_EQ(::kill(lease.pid, SIGKILL), 0);

    // Reaped by the pool's watcher, then replaced.
    ASSERT_TRUE(eventually([&] { return process_gone(lease.pid); }, 10s));
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));
    const auto a = acquire_ok(*pool);
    const auto b = acquire_ok(*pool);
    EXPECT_NE(a.fork_serial, lease.fork_serial);
    EXPECT_NE(b.fork_serial, lease.fork_serial);
    EXPECT_TRUE(rpc(a.url, "eth_chainId"));
    EXPECT_TRUE(rpc(b.url, "eth_chainId"));
    EXPECT_TRUE(run(pool->release(a, {})).ok());
    EXPECT_TRUE(run(pool->release(b, {})).ok());
}

TEST_F(ForkPoolTest, PoolOfAnUpstreamReadsUpstreamState) {
    test::TestAnvil upstream(kChain);
    ASSERT_TRUE(rpc(upstream.url(), "anvil_setBalance", {kAddress, "0xabcdef"}));

    ForkSpec spec = fresh_chain();
    spec.upstream_url = upstream.url();
    auto pool = make_pool(spec, 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));
    const auto lease = acquire_ok(*pool);
    EXPECT_EQ(balance(lease.url), "\"0xabcdef\"");
    ASSERT_TRUE(rpc(lease.url, "anvil_setBalance", {kAddress, "0x1"}));
    EXPECT_TRUE(run(pool->release(lease, {})).ok());
    EXPECT_EQ(balance(upstream.url()), "\"0xabcdef\"");  // A lease never writes upstream.
    run(pool->shutdown());
}

TEST_F(ForkPoolTest, UnreachableUpstreamIsRetriedAndReportedInTheTimeout) {
    ForkSpec spec = fresh_chain();
    spec.upstream_url = "http://127.0.0.1:1";  // Nothing listens there.
    auto pool = make_pool(spec, 2);

    const auto r = run(pool->acquire(10s, {}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.rfind(
                  "no warm fork of chain 8453 became free within 10000 ms (pool size 2); "
                  "the last fork failed to start: ",
                  0),
              0u)
        << r.error().message;
    std::cout << "[ unreachable upstream ] " << r.error().message << "\n";
    EXPECT_EQ(pool->size(), 0u);

    // Shutdown is prompt even with spawns backing off.
    const auto started = Clock::now();
    run(pool->shutdown());
    EXPECT_LT(Clock::now() - started, 10s);
}

TEST_F(ForkPoolTest, ShutdownStopsEveryForkLeasedOrNot) {
    const auto before = child_pids();
    auto pool = make_pool(fresh_chain(), 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));
    const auto leased = acquire_ok(*pool);
    const auto other = acquire_ok(*pool);
    ASSERT_TRUE(run(pool->release(other, {})).ok());
    EXPECT_FALSE(process_gone(leased.pid));
    EXPECT_FALSE(process_gone(other.pid));

    run(pool->shutdown());
    EXPECT_TRUE(process_gone(leased.pid));
    EXPECT_TRUE(process_gone(other.pid));
    EXPECT_EQ(child_pids(), before);
    EXPECT_EQ(pool->idle(), 0u);
    EXPECT_EQ(pool->size(), 0u);

    const auto started = Clock::now();
    const auto r = run(pool->acquire(5s, {}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, PoolErrc::kShutDown);
    EXPECT_EQ(r.error().message, "the fork pool of chain 8453 is shut down");
    EXPECT_LT(Clock::now() - started, 1s);
    const auto late = run(pool->release(leased, {}));
    EXPECT_FALSE(late.ok());
    EXPECT_EQ(late.code, PoolErrc::kShutDown);
}

TEST_F(ForkPoolTest, ShutdownWhileForksAreStartingLeavesNoProcess) {
    const auto before = child_pids();
    auto pool = make_pool(fresh_chain(), 2);
    run(pool->shutdown());
    EXPECT_EQ(child_pids(), before);
    EXPECT_EQ(pool->size(), 0u);
}

TEST_F(ForkPoolTest, LeaseAndReleaseLatency) {
    auto pool = make_pool(fresh_chain(), 2);
    ASSERT_TRUE(eventually([&] { return pool->idle() == 2; }));
    constexpr int kCycles = 50;
    auto measure = [&]()
        -> asio::awaitable<std::pair<std::vector<Clock::duration>, std::vector<Clock::duration>>> {
        std::vector<Clock::duration> acquires;
        std::vector<Clock::duration> releases;
        for (int i = 0; i < kCycles; ++i) {
            auto t0 = Clock::now();
            auto lease = co_await pool->acquire(10s, {});
            acquires.push_back(Clock::now() - t0);
            if (!lease) {
                ADD_FAILURE() << lease.error().message;
                break;
            }
            t0 = Clock::now();
            auto released = co_await pool->release(*lease, {});
            releases.push_back(Clock::now() - t0);
            EXPECT_TRUE(released.ok()) << released.message;
        }
        co_return std::pair{acquires, releases};
    };
    const auto [acquires, releases] = run(measure());
    ASSERT_EQ(acquires.size(), static_cast<std::size_t>(kCycles));
    std::cout << "[ latency ] over " << kCycles << " cycles: acquire p50 " << p50_ms(acquires)
              << " ms, p90 " << p90_ms(acquires) << " ms; release p50 " << p50_ms(releases)
              << " ms, p90 " << p90_ms(releases) << " ms (goal: p50 <= 5 ms each)\n";
}

}  // namespace
}  // namespace forkrun::forks
