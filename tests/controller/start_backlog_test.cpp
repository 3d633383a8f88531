// The start backlog: a burst of creators never holds more runs waiting to begin than
// `start_backlog`, and once shutdown begins no place is given. (The FIFO limiter under it is
// tested in tests/forks/spawn_limit_test.cpp.)
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

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

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
