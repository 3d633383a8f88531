// Stored Run JSON read back, and a run whose controller was lost finished as controllerLost.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "http/run_restore.hpp"

namespace forkrun::http {
namespace {

namespace json = boost::json;

constexpr const char* kLive =
    R"({"id":"run_1","organizationId":"org_a","workflowId":"wf","workflowVersion":2,
"workflowDefinition":{"nodes":{}},"propValues":{},"status":"running","startedAt":"2026-11-28T08:34:53.123Z",
"finishedAt":null,"isSimulation":true,"isDustTest":false,"simulationMode":"pool","simulationForks":[],
"sourceRunId":null,"totalCu":40,"triggerSource":"api","triggeredBy":"alice",
"executionState":{"nodes":{"root":{"status":"success","cu":0},"w":{"status":"waiting","cu":30},
"z":{"status":"pending","cu":0}},"forks":{"f1":{"chainId":1,"state":"ready","cu":10,"error":null}},
"error":null,"cancellation":null}})";

TEST(RunRestore, ALostRunEndsAsControllerLostWithItsCu) {
    const auto now = util::Clock::time_point(std::chrono::milliseconds(1764318893123));
    const auto lost = json::parse(lost_run_json(kLive, now)).as_object();
    EXPECT_EQ(lost.at("status"), "failure");
    EXPECT_EQ(lost.at("finishedAt"), "2025-11-28T08:34:53.123Z");
    EXPECT_EQ(lost.at("totalCu"), 40);
    const auto& es = lost.at("executionState").as_object();
    EXPECT_EQ(es.at("error").at("code"), "controllerLost");
    EXPECT_EQ(es.at("nodes").at("root").at("status"), "success");
    EXPECT_EQ(es.at("nodes").at("w").at("status"), "failure");
    EXPECT_EQ(es.at("nodes").at("z").at("status"), "skipped");
    EXPECT_EQ(es.at("forks").at("f1").at("state"), "failed");
    // Keys keep their order: the answer reads like the others.
    EXPECT_EQ(lost.begin()->key(), "id");

    controller::StoredRun stored{"run_1", "org_a", 3, lost_run_json(kLive, now)};
    const auto restored = restore_run(stored);
    ASSERT_TRUE(restored);
    EXPECT_EQ(restored->run.status, controller::RunStatus::kFailure);
    EXPECT_EQ(restored->run.workflow_id, "wf");
    EXPECT_EQ(restored->run.workflow_version, 2);
    EXPECT_TRUE(restored->run.is_simulation);
    EXPECT_EQ(restored->run.finished_at, now);
    EXPECT_EQ(restored->org_seq, 3u);
    const auto summary = json::parse(restored->summary).as_object();
    EXPECT_FALSE(summary.contains("workflowDefinition"));
    EXPECT_FALSE(summary.contains("executionState"));
    EXPECT_EQ(summary.at("totalCu"), 40);
    // A run that is not terminal is not read back as one.
    EXPECT_FALSE(restore_run(controller::StoredRun{"run_1", "org_a", 3, kLive}));
}

}  // namespace
}  // namespace forkrun::http
