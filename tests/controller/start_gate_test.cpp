// The start backlog: creators past `start_backlog` wait in order for a run to begin, a burst never
// holds more runs waiting to begin than that, and a stopping server wakes every waiter.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <optional>
#include <vector>

#include "controller/controller.hpp"
#include "controller/quiet_stderr.hpp"
#include "controller/start_gate.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

/// Acquires a place and keeps it in `slots[i]` (`admitted` records the order of admission).
void acquire_into(asio::io_context& ioc,
                  StartGate& gate,
                  std::vector<std::optional<StartSlot>>& slots,
                  std::vector<int>& admitted,
                  int i) {
    asio::co_spawn(
        ioc,
        [&gate, &slots, &admitted, i]() -> asio::awaitable<void> {
            auto slot = co_await gate.acquire();
            slots[static_cast<std::size_t>(i)] = std::move(slot);
            admitted.push_back(i);
        },
        asio::detached);
}

TEST(StartGate, CallersPastTheCapacityWaitAndAreAdmittedInOrderAsPlacesFree) {
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    StartGate gate(ioc.get_executor(), 2);
    std::vector<std::optional<StartSlot>> slots(5);
    std::vector<int> admitted;
    for (int i = 0; i < 5; ++i) {
        acquire_into(ioc, gate, slots, admitted, i);
    }
    ioc.poll();
    EXPECT_EQ(admitted, (std::vector<int>{0, 1}));
    EXPECT_EQ(gate.held(), 2u);
    ASSERT_TRUE(slots[0] && *slots[0]);

    slots[1]->release();
    ioc.poll();
    EXPECT_EQ(admitted, (std::vector<int>{0, 1, 2}));
    slots[1]->release();  // a second release gives nothing back twice
    ioc.poll();
    EXPECT_EQ(admitted, (std::vector<int>{0, 1, 2}));

    slots[0].reset();  // dropping a slot gives its place back too
    slots[2].reset();
    ioc.poll();
    EXPECT_EQ(admitted, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(gate.held(), 2u);
}

TEST(StartGate, ClosingWakesEveryWaiterWithAnEmptySlotAndRefusesLaterCallers) {
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);  // poll() must not stop it once it runs dry
    StartGate gate(ioc.get_executor(), 1);
    std::vector<std::optional<StartSlot>> slots(4);
    std::vector<int> admitted;
    for (int i = 0; i < 3; ++i) {
        acquire_into(ioc, gate, slots, admitted, i);
    }
    ioc.poll();
    ASSERT_EQ(admitted, (std::vector<int>{0}));
    gate.close();
    ioc.poll();
    ASSERT_EQ(admitted.size(), 3u);
    EXPECT_FALSE(*slots[1]);
    EXPECT_FALSE(*slots[2]);
    acquire_into(ioc, gate, slots, admitted, 3);
    ioc.poll();
    ASSERT_EQ(admitted.size(), 4u);
    EXPECT_FALSE(*slots[3]);
    slots[0].reset();  // releasing after the close is harmless
    ioc.poll();
}

json::value assert_run() {
    return json::parse(R"({
        "workflowId": "wf_burst", "workflowVersion": 1,
        "workflowDefinition": {"inputSchema": [], "nodes": {
            "root": {"type": "manual", "children": ["a"]},
            "a": {"type": "assert", "props": {"value": "1", "equals": "1"}}}}})");
}

TEST(StartBacklog, ABurstOfCreationsNeverHoldsMoreRunsWaitingToBeginThanTheBacklog) {
    QuietStderr quiet;
    asio::io_context wire;  // where creators wait, like the HTTP threads
    asio::io_context exec;  // where runs begin; it runs only when the test says so
    auto wire_work = asio::make_work_guard(wire);
    auto exec_work = asio::make_work_guard(exec);
    ControllerConfig config;
    config.start_backlog = 4;
    Controller ctl(config, exec.get_executor());
    const Principal who{"org_a", "alice"};
    constexpr int kBurst = 20;
    std::vector<std::shared_ptr<RunRecord>> created;
    for (int i = 0; i < kBurst; ++i) {
        asio::co_spawn(
            wire,
            [&]() -> asio::awaitable<void> {
                auto slot = co_await ctl.reserve_start();
                EXPECT_TRUE(slot);
                auto run = ctl.create_run(who, assert_run(), std::move(slot));
                EXPECT_TRUE(run);
                if (run) {
                    created.push_back(*run);
                }
            },
            asio::detached);
    }
    wire.poll();
    EXPECT_EQ(created.size(), 4u) << "only the backlog's worth is created before any begins";
    while (created.size() < kBurst) {
        const auto before = created.size();
        exec.poll();  // the runs created so far begin (and finish), giving their places back
        wire.poll();
        ASSERT_GT(created.size(), before) << "creators were left waiting";
        ASSERT_LE(created.size() - before, 4u);
    }
    exec.poll();
    for (const auto& rec : created) {
        EXPECT_EQ(rec->status(), RunStatus::kSuccess) << rec->id();
    }
}

TEST(StartBacklog, AfterShutdownBeginsNoPlaceIsGivenSoNoRunIsCreatedBehindIt) {
    QuietStderr quiet;
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    Controller ctl(ControllerConfig{}, ioc.get_executor());
    asio::co_spawn(ioc, ctl.shutdown(), asio::detached);
    ioc.poll();
    std::optional<bool> got;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto slot = co_await ctl.reserve_start();
            got = static_cast<bool>(slot);
        },
        asio::detached);
    ioc.poll();
    ASSERT_TRUE(got.has_value());
    EXPECT_FALSE(*got);
}

}  // namespace
}  // namespace forkrun::controller
