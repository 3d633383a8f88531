// Fault tests (issue #5 item 4) of the controller alone: a cancel racing a run's own completion,
// 10,000 times, through the whole controller (create, execution on its strand, cancel), each run
// ending exactly once for good; and an assert on a huge hex value, which must not stall the
// executor every run shares.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "controller/assert_compare.hpp"
#include "controller/controller.hpp"
#include "controller/quiet_stderr.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

/// root -> w (a wait of `seconds`) -> a (an assert that holds or not).
json::value racing_run(double seconds, bool assert_holds) {
    auto run = json::parse(R"({
        "workflowId": "wf_race", "workflowVersion": 1,
        "workflowDefinition": {"inputSchema": [], "nodes": {
            "root": {"type": "manual", "children": ["w"]},
            "w": {"type": "wait", "children": ["a"], "props": {"seconds": 0}},
            "a": {"type": "assert", "props": {"value": "1", "equals": "1"}}}}})");
    auto& nodes = run.at("workflowDefinition").at("nodes");
    nodes.at("w").at("props").at("seconds") = seconds;
    nodes.at("a").at("props").at("equals") = assert_holds ? "1" : "2";
    return run;
}

struct Final {
    RunStatus status;
    std::optional<Timestamp> finished_at;
    std::uint64_t total_cu;
    bool has_cancellation;
    std::optional<Timestamp> cancellation_completed_at;
    std::vector<NodeStatus> nodes;
};

Final final_of(const RunRecord& rec) {
    return rec.read([](const auto& r) {
        Final f{r.status,
                r.finished_at,
                r.total_cu(),
                r.cancellation.has_value(),
                r.cancellation ? r.cancellation->completed_at : std::nullopt,
                {}};
        for (const auto& n : r.nodes) {
            f.nodes.push_back(n.status);
        }
        return f;
    });
}

TEST(CancelRace, CancelRacingCompletionTenThousandTimesEndsEachRunOnceForGood) {
    QuietStderr quiet;
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
        threads.emplace_back([&] { ioc.run(); });
    }
    {
        Controller ctl(ControllerConfig{}, ioc.get_executor());
        const Principal who{"org_a", "alice"};
        std::mt19937 rng(12345);
        // The cancel is sent `delay` after the run starts; the delay walks towards the point
        // where each side wins half the time, so the two really race.
        int delay_us = 200;
        int cancel_won = 0;
        int completion_won = 0;
        constexpr int kRounds = 10000;
        for (int round = 0; round < kRounds; ++round) {
            const bool holds = round % 2 == 0;
            const RunStatus completion = holds ? RunStatus::kSuccess : RunStatus::kFailure;
            auto created = ctl.create_run(who, racing_run(0.0002, holds));
            ASSERT_TRUE(created) << "round " << round;
            const auto rec = *created;
            const auto spin_until =
                std::chrono::steady_clock::now() +
                std::chrono::microseconds(std::uniform_int_distribution<int>(0, delay_us)(rng));
            while (std::chrono::steady_clock::now() < spin_until) {
            }
            const auto result = asio::co_spawn(ioc, ctl.cancel(who, rec->id(), std::string("race")),
                                               asio::use_future)
                                    .get();
            ASSERT_NE(result.outcome, CancelOutcome::kNotFound) << "round " << round;
            const Final first = final_of(*rec);
            ASSERT_TRUE(is_terminal(first.status)) << "round " << round;
            ASSERT_TRUE(first.finished_at.has_value()) << "round " << round;
            for (const auto s : first.nodes) {
                ASSERT_TRUE(s == NodeStatus::kSuccess || s == NodeStatus::kFailure ||
                            s == NodeStatus::kCancelled || s == NodeStatus::kSkipped)
                    << "round " << round << ": a node of a terminal run is still " << to_string(s);
            }
            if (result.outcome == CancelOutcome::kCancelled) {
                ++cancel_won;
                delay_us += 5;
                ASSERT_EQ(first.status, RunStatus::kCancelled) << "round " << round;
                ASSERT_TRUE(first.has_cancellation) << "round " << round;
                ASSERT_TRUE(first.cancellation_completed_at.has_value()) << "round " << round;
            } else {
                ++completion_won;
                delay_us = std::max(0, delay_us - 5);
                ASSERT_EQ(first.status, completion) << "round " << round;
                ASSERT_FALSE(first.has_cancellation) << "round " << round;
            }

            // A second cancel loses, and nothing can change the run any more.
            const auto again = asio::co_spawn(ioc, ctl.cancel(who, rec->id(), std::string("again")),
                                              asio::use_future)
                                   .get();
            ASSERT_EQ(again.outcome, CancelOutcome::kAlreadyTerminal) << "round " << round;
            EXPECT_FALSE(rec->finish(RunStatus::kFailure, [](auto&) {}));
            EXPECT_FALSE(rec->update([](auto& r) { r.status = RunStatus::kRunning; }));
            const Final later = final_of(*rec);
            ASSERT_EQ(later.status, first.status) << "round " << round;
            ASSERT_EQ(later.finished_at, first.finished_at) << "round " << round;
            ASSERT_EQ(later.total_cu, first.total_cu) << "round " << round;
            ASSERT_EQ(later.has_cancellation, first.has_cancellation) << "round " << round;
            ASSERT_EQ(later.cancellation_completed_at, first.cancellation_completed_at);
            ASSERT_EQ(later.nodes, first.nodes) << "round " << round;
        }
        EXPECT_EQ(cancel_won + completion_won, kRounds);
        std::printf("cancel won %d times, completion %d times (cancel sent 0-%d us after)\n",
                    cancel_won, completion_won, delay_us);
        // Both sides won often: the test really raced them.
        EXPECT_GE(cancel_won, kRounds / 10) << completion_won << " completions";
        EXPECT_GE(completion_won, kRounds / 10) << cancel_won << " cancels";
        // Every execution lets go of itself once its run is terminal.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (ctl.active_runs() != 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        EXPECT_EQ(ctl.active_runs(), 0u);
    }
    work.reset();
    for (auto& t : threads) {
        t.join();
    }
}

TEST(AssertOnHugeValues, LongHexStringsCompareAsTextAtOnce) {
    // An rpc node's output can be megabytes of hex (eth_getCode, eth_call, a huge upstream answer).
    // Reading it as an integer took quadratic time on the one thread all runs share.
    const json::value huge("0x" + std::string(4'000'000, 'a'));
    const auto started = std::chrono::steady_clock::now();
    EXPECT_FALSE(assert_holds(huge, AssertOp::kEquals, json::value("0x10")));
    EXPECT_TRUE(assert_holds(huge, AssertOp::kEquals, huge));
    EXPECT_TRUE(assert_holds(huge, AssertOp::kNotEquals, json::value(16)));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
    // Up to 4096 bits a hex string is still an integer.
    const json::value wide("0x1" + std::string(1022, '0'));
    EXPECT_TRUE(
        assert_holds(wide, AssertOp::kEquals, json::value("0x01" + std::string(1022, '0'))));
    EXPECT_TRUE(assert_holds(wide, AssertOp::kGte, json::value("0xffff")));
}

}  // namespace
}  // namespace forkrun::controller
