// What a compacted record still knows of its run: the definition and propValues a re-run copies,
// found in the cached text whatever the wire calls them, or kept when the text does not hold them.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <string>

#include "controller/run_record.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;

/// `Run` inside a TEST names testing::Test::Run.
using RunState = ::forkrun::controller::Run;

Run finished_run() {
    Run r;
    r.id = "run_r";
    r.organization_id = "org_a";
    r.workflow_id = "wf";
    r.workflow_definition["nodes"] = json::object{{"root", json::object{{"type", "manual"}}}};
    r.prop_values["amount"] = "5";
    r.status = RunStatus::kRunning;
    return r;
}

std::string summary(const Run& r) {
    return r.id;
}

TEST(RunRecord, ACompactedRunGivesItsDefinitionBackWhateverTheWireCallsIt) {
    RunRecord rec(finished_run(), 1);
    rec.finish(RunStatus::kSuccess, [](RunState&) {});
    // Keys the controller has never heard of: it finds its own data by its own serialization.
    rec.compact(
        [](const RunState& r) {
            return "{\"x\":" + json::serialize(r.prop_values) +
                   ",\"y\":" + json::serialize(r.workflow_definition) + "}";
        },
        summary);
    const RunState copy = rec.snapshot();
    EXPECT_EQ(copy.workflow_definition, finished_run().workflow_definition);
    EXPECT_EQ(copy.prop_values, finished_run().prop_values);
    EXPECT_TRUE(copy.nodes.empty());
}

TEST(RunRecord, ADefinitionTheTextDoesNotHoldIsKept) {
    RunRecord rec(finished_run(), 1);
    rec.finish(RunStatus::kSuccess, [](RunState&) {});
    rec.compact([](const RunState&) { return std::string("{\"id\":\"run_r\"}"); }, summary);
    const RunState copy = rec.snapshot();
    EXPECT_EQ(copy.workflow_definition, finished_run().workflow_definition);
    EXPECT_EQ(copy.prop_values, finished_run().prop_values);
}

TEST(RunRecord, ARestoredRunGivesItsDefinitionBack) {
    RunState run = finished_run();
    run.status = RunStatus::kFailure;
    const std::string full = R"({"id":"run_r","workflowDefinition":)" +
                             json::serialize(run.workflow_definition) + R"(,"propValues":)" +
                             json::serialize(run.prop_values) + "}";
    auto rec = RunRecord::restored(run, 1, 1, full, R"({"id":"run_r"})");
    const RunState copy = rec->snapshot();
    EXPECT_EQ(copy.workflow_definition, run.workflow_definition);
    EXPECT_EQ(copy.prop_values, run.prop_values);
}

}  // namespace
}  // namespace forkrun::controller
