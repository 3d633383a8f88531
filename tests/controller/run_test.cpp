// Tests for the Run object's own parts: the contract's names of statuses and states, a run's
// total CU, its forks found by id, and the cancellation object as the contract spells it.
#include "controller/run.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value_from.hpp>

#include "util/timestamp.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;

TEST(Run, StatusesAndStatesHaveTheContractsNames) {
    const std::pair<RunStatus, const char*> run_statuses[] = {{RunStatus::kWaiting, "waiting"},
                                                              {RunStatus::kRunning, "running"},
                                                              {RunStatus::kSuccess, "success"},
                                                              {RunStatus::kFailure, "failure"},
                                                              {RunStatus::kCancelled, "cancelled"}};
    for (const auto& [status, name] : run_statuses) {
        EXPECT_EQ(to_string(status), name);
        EXPECT_EQ(parse_run_status(name), status) << name;
    }
    EXPECT_EQ(parse_run_status("Success"), std::nullopt);
    EXPECT_EQ(parse_run_status(""), std::nullopt);
    EXPECT_EQ(parse_run_status("unknown"), std::nullopt);
    EXPECT_TRUE(is_terminal(RunStatus::kCancelled));
    EXPECT_FALSE(is_terminal(RunStatus::kWaiting));
    EXPECT_FALSE(is_terminal(RunStatus::kRunning));
    EXPECT_EQ(to_string(NodeStatus::kPending), "pending");
    EXPECT_EQ(to_string(NodeStatus::kSkipped), "skipped");
    EXPECT_EQ(to_string(NodeStatus::kWaiting), "waiting");
    EXPECT_EQ(to_string(ForkState::kProvisioning), "provisioning");
    EXPECT_EQ(to_string(ForkState::kKept), "kept");
    EXPECT_EQ(to_string(ForkState::kFailed), "failed");
    EXPECT_EQ(to_string(SimulationMode::kFork), "fork");
    EXPECT_EQ(to_string(SimulationMode::kPool), "pool");
}

TEST(Run, TotalCuIsItsNodesAndForksAndForksAreFoundById) {
    controller::Run run;
    EXPECT_EQ(run.total_cu(), 0u);
    run.nodes.resize(2);
    run.nodes[0].cu = 26;
    run.nodes[1].cu = 10;
    ForkInfo fork;
    fork.fork_id = "fork_1";
    fork.cu = 100;
    run.forks.push_back(fork);
    run.inspection_cu = 1000;  // a kept fork's calls after the run: not the run's own
    EXPECT_EQ(run.total_cu(), 136u);
    ASSERT_NE(run.find_fork("fork_1"), nullptr);
    run.find_fork("fork_1")->cu = 4;
    EXPECT_EQ(run.total_cu(), 40u);
    EXPECT_EQ(run.find_fork("fork_2"), nullptr);
    EXPECT_EQ(run.find_fork(""), nullptr);
}

TEST(Run, TheCancellationObjectAsTheContractSpellsIt) {
    Cancellation c;
    c.requested_by = "user_1";
    c.requested_at = Clock::now();
    json::value jv = json::value_from(c);
    EXPECT_EQ(jv, json::parse(R"({"requestedBy": "user_1", "requestedAt": ")" +
                              util::format_timestamp(c.requested_at) +
                              R"(", "reason": null, "completedAt": null, "forks": []})"));
    c.reason = "enough";
    c.completed_at = c.requested_at;
    c.forks.push_back(
        ForkTeardown{"fork_1", 8453, true, forks::TeardownMethod::kEvmRevert, 1.5, {}});
    c.forks.push_back(
        ForkTeardown{"fork_2", 1, false, forks::TeardownMethod::kSigkill, 250, "did not exit"});
    jv = json::value_from(c);
    EXPECT_EQ(jv.at("reason"), "enough");
    EXPECT_EQ(jv.at("completedAt"), jv.at("requestedAt"));
    EXPECT_EQ(jv.at("forks"), json::parse(R"([
        {"forkId": "fork_1", "chainId": 8453, "ok": true, "method": "evm_revert", "ms": 1.5,
         "error": null},
        {"forkId": "fork_2", "chainId": 1, "ok": false, "method": "SIGKILL", "ms": 250.0,
         "error": "did not exit"}])"));
}

}  // namespace
}  // namespace forkrun::controller
