// Tests for the Run object on the wire: every key of the contract in its order, nulls where a
// value is not there yet, the list item without the heavy parts, and runs bigger than the
// serializer's scratch arena.
#include "http/run_json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>

#include "controller/run.hpp"

namespace forkrun::http {
namespace {

namespace json = boost::json;
using controller::ForkInfo;
using controller::NodeState;

std::vector<std::string> run_json_keys(const json::object& o) {
    std::vector<std::string> keys;
    for (const auto& kv : o) {
        keys.emplace_back(kv.key());
    }
    return keys;
}

TEST(RunJson, EveryKeyOfTheContractInItsOrderWithNullsForWhatIsNotThereYet) {
    controller::Run run;
    run.id = "run_1";
    run.organization_id = "org_a";
    run.workflow_id = "wf";
    run.triggered_by = "user_1";
    const json::object o = json::parse(run_to_json(run)).as_object();
    EXPECT_EQ(run_json_keys(o), (std::vector<std::string>{"id",
                                                          "organizationId",
                                                          "workflowId",
                                                          "workflowVersion",
                                                          "workflowDefinition",
                                                          "propValues",
                                                          "status",
                                                          "startedAt",
                                                          "finishedAt",
                                                          "isSimulation",
                                                          "isDustTest",
                                                          "simulationMode",
                                                          "simulationForks",
                                                          "forkBlockNumbers",
                                                          "keepForksOnFailure",
                                                          "sourceRunId",
                                                          "totalCu",
                                                          "triggerSource",
                                                          "triggeredBy",
                                                          "executionState"}));
    EXPECT_EQ(o.at("status"), "waiting");
    EXPECT_TRUE(o.at("finishedAt").is_null());
    EXPECT_TRUE(o.at("simulationMode").is_null());
    EXPECT_TRUE(o.at("sourceRunId").is_null());
    EXPECT_EQ(o.at("workflowDefinition"), json::object());
    EXPECT_EQ(o.at("simulationForks"), json::array());
    EXPECT_EQ(o.at("forkBlockNumbers"), json::object());
    EXPECT_EQ(o.at("totalCu"), json::value(0));
    EXPECT_EQ(o.at("triggerSource"), "api");
    const json::object& state = o.at("executionState").as_object();
    EXPECT_EQ(run_json_keys(state),
              (std::vector<std::string>{"nodes", "forks", "error", "cancellation", "changes",
                                        "changeTotals", "inspectionCu"}));
    EXPECT_TRUE(state.at("error").is_null());
    EXPECT_TRUE(state.at("cancellation").is_null());
}

TEST(RunJson, NodesForksAndErrorsOfAFailedSimulation) {
    controller::Run run;
    run.id = "run_2";
    run.status = controller::RunStatus::kFailure;
    run.finished_at = run.started_at;
    run.is_simulation = true;
    run.simulation_mode = controller::SimulationMode::kFork;
    run.fork_block_numbers = {{8453, 20000000}, {1, 0}};
    run.keep_forks_on_failure = 60;
    run.source_run_id = "run_1";
    NodeState node;
    node.id = "a";
    node.status = controller::NodeStatus::kFailure;
    node.cu = 26;
    node.error = controller::ErrorInfo{controller::RunErrc::kRpcFailed, "chain 1: \"timed\"\nout"};
    run.nodes.push_back(node);
    ForkInfo ready;
    ready.fork_id = "fork_1";
    ready.chain_id = 8453;
    ready.rpc_url = "http://127.0.0.1:8080/rpc/secret";
    ready.state = controller::ForkState::kKept;
    ready.cu = 100;
    ready.fork_block_number = 20000000;
    ForkInfo queued;
    queued.fork_id = "fork_2";
    queued.chain_id = 1;
    queued.queue_position = 2;
    run.forks = {ready, queued};
    run.error = controller::RunError{controller::RunErrc::kRpcFailed, "node a failed", "a"};
    run.inspection_cu = 7;

    const json::object o = json::parse(run_to_json(run)).as_object();
    EXPECT_EQ(o.at("status"), "failure");
    EXPECT_TRUE(o.at("finishedAt").is_string());
    EXPECT_EQ(o.at("simulationMode"), "fork");
    EXPECT_EQ(o.at("forkBlockNumbers"), json::parse(R"({"1": 0, "8453": 20000000})"));
    EXPECT_EQ(o.at("keepForksOnFailure"), json::value(60));
    EXPECT_EQ(o.at("sourceRunId"), "run_1");
    EXPECT_EQ(o.at("totalCu"), json::value(126));
    // Only a fork with an rpcUrl is one a client can reach.
    EXPECT_EQ(o.at("simulationForks"), json::parse(R"([{"chainId": 8453, "forkId": "fork_1",
        "rpcUrl": "http://127.0.0.1:8080/rpc/secret"}])"));
    const auto& state = o.at("executionState").as_object();
    EXPECT_EQ(state.at("nodes").at("a"), json::parse(R"({"status": "failure", "startedAt": null,
        "finishedAt": null, "cu": 26, "output": null,
        "error": {"code": "rpc_failed", "message": "chain 1: \"timed\"\nout"}})"));
    EXPECT_EQ(state.at("forks").at("fork_1"),
              json::parse(R"({"chainId": 8453, "state": "kept", "cu": 100, "error": null,
                  "queuePosition": null, "startAttempts": null, "forkBlockNumber": 20000000,
                  "keptUntil": null})"));
    EXPECT_EQ(state.at("forks").at("fork_2").at("queuePosition"), json::value(2));
    EXPECT_EQ(state.at("forks").at("fork_2").at("state"), "provisioning");
    EXPECT_EQ(state.at("error"), json::parse(R"({"code": "rpc_failed", "message": "node a failed",
        "nodeId": "a"})"));
    EXPECT_EQ(state.at("inspectionCu"), json::value(7));
}

TEST(RunJson, AListItemHasNeitherDefinitionNorExecutionState) {
    controller::Run run;
    run.id = "run_3";
    run.workflow_definition = json::parse(R"({"nodes": {"root": {"type": "manual"}}})").as_object();
    const json::object summary = json::parse(run_summary_to_json(run)).as_object();
    EXPECT_FALSE(summary.contains("workflowDefinition"));
    EXPECT_FALSE(summary.contains("executionState"));
    EXPECT_EQ(summary.size(), 18u);
    const json::object full = json::parse(run_to_json(run)).as_object();
    for (const auto& kv : summary) {
        EXPECT_EQ(full.at(kv.key()), kv.value()) << kv.key();
    }
}

TEST(RunJson, ARunBiggerThanTheScratchArenaIsWhole) {
    controller::Run run;
    run.id = "run_4";
    for (int i = 0; i < 3000; ++i) {
        NodeState n;
        n.id = "n" + std::to_string(i);
        n.output = json::object{{"value", std::string(20, 'x')}};
        run.nodes.push_back(std::move(n));
    }
    const std::string text = run_to_json(run);
    EXPECT_GT(text.size(), 16384u * 10);
    const json::object o = json::parse(text).as_object();
    EXPECT_EQ(o.at("executionState").at("nodes").as_object().size(), 3000u);
    EXPECT_EQ(o.at("executionState").at("nodes").at("n2999").at("output").at("value"),
              json::value(std::string(20, 'x')));
}

TEST(RunJson, TheDictionaryIsACancelledRunsThenAFinishedSimulationsJson) {
    const std::string_view dictionary = run_json_dictionary();
    EXPECT_EQ(dictionary.data(), run_json_dictionary().data()) << "made once";
    json::stream_parser p;
    const std::size_t first = p.write_some(dictionary);
    ASSERT_TRUE(p.done());
    const json::object cancelled = p.release().as_object();
    EXPECT_EQ(cancelled.at("status"), "cancelled");
    EXPECT_EQ(cancelled.at("executionState").at("cancellation").at("requestedBy"), "user");
    const json::object o = json::parse(dictionary.substr(first)).as_object();
    EXPECT_EQ(o.at("status"), "success");
    EXPECT_EQ(o.at("executionState").at("nodes").as_object().size(), 4u);
    EXPECT_EQ(o.at("executionState").at("forks").at("fork_AAAAAAAAAAAAAAAAAAAAAA").at("state"),
              "released");
}

// The summary read off a full text is run_summary_to_json's text byte for byte, and the
// request's places hold the definition and propValues, also when they hold what looks like
// the members being cut (keys named executionState, braces and quotes in strings, escapes).
TEST(RunJson, TheSummaryCutFromTheFullTextIsTheSummarysText) {
    controller::Run run;
    run.id = "run_5";
    run.workflow_id = "wf \"}\\";
    run.triggered_by = "x\",\"executionState\":{";
    run.workflow_definition = json::parse(R"({"nodes": {"root": {"type": "manual",
        "props": {"executionState": {"a": [1, "]}", {"b": "\\\""}]}, "n": -1.5e3, "t": true}}},
        "inputSchema": []})")
                                  .as_object();
    run.prop_values =
        json::parse(R"({"executionState": "}", "workflowDefinition": [null, {}]})").as_object();
    run.status = controller::RunStatus::kSuccess;
    run.finished_at = run.started_at;
    NodeState node;
    node.id = "root";
    node.status = controller::NodeStatus::kSuccess;
    node.output = json::parse(R"({"executionState": {"nodes": "}}"}, "x": [[], {}]})");
    run.nodes.push_back(node);
    for (const auto& r : {run, controller::Run{}}) {
        const std::string full = run_to_json(r);
        const auto cut = cut_run_json(full);
        ASSERT_TRUE(cut) << full;
        EXPECT_EQ(cut->summary, run_summary_to_json(r));
        const auto& [def_at, def_len, props_at, props_len] = cut->request;
        EXPECT_EQ(json::parse(full.substr(def_at, def_len)), json::value(r.workflow_definition));
        EXPECT_EQ(json::parse(full.substr(props_at, props_len)), json::value(r.prop_values));
    }
    // Text of another shape is not cut.
    EXPECT_FALSE(cut_run_json(""));
    EXPECT_FALSE(cut_run_json(run_summary_to_json(run)));
    EXPECT_FALSE(cut_run_json(R"({"workflowDefinition":{}})"));
    const std::string full = run_to_json(run);
    EXPECT_FALSE(cut_run_json(full.substr(0, full.size() - 1)));
    EXPECT_FALSE(cut_run_json(full.substr(0, full.size() / 2) + "}"));
}

// The text is what Boost.JSON writes for the same value (it is written member by member, not
// built as a tree): parsing it and serializing it again gives the same bytes, for a run with
// every optional part present, escapes, numbers at their limits and a cancellation.
TEST(RunJson, TheTextIsBoostJsonsSerializationOfItself) {
    controller::Run run;
    run.id = "run_6";
    run.organization_id = "org \"q\"\n";
    run.workflow_id = "wf\\\x01";
    run.workflow_version = -9223372036854775807 - 1;
    run.workflow_definition =
        json::parse(R"({"nodes": {"root": {"type": "manual"}}, "x": 1.5})").as_object();
    run.prop_values =
        json::parse(R"({"p": [1, -2, 3.25e-7, "caf\u00e9", null, true]})").as_object();
    run.status = controller::RunStatus::kCancelled;
    run.finished_at = run.started_at;
    run.is_simulation = true;
    run.is_dust_test = true;
    run.simulation_mode = controller::SimulationMode::kPool;
    run.fork_block_numbers = {{18446744073709551615u, 1}, {1, 18446744073709551615u}};
    run.keep_forks_on_failure = 4294967295u;
    run.source_run_id = "run_\"src\"";
    run.triggered_by = "\x7f\t";
    NodeState node;
    node.id = "a\"b";
    node.status = controller::NodeStatus::kFailure;
    node.started_at = run.started_at;
    node.cu = 18446744073709551615u;
    node.output = json::parse(R"({"v": [{}, [], ""]})");
    node.error = controller::ErrorInfo{controller::RunErrc::kRpcFailed, "x\r\n"};
    run.nodes.push_back(node);
    ForkInfo fork;
    fork.fork_id = "fork_\\";
    fork.chain_id = 1;
    fork.rpc_url = "http://127.0.0.1:1/rpc/\"";
    fork.error = "gone";
    fork.queue_position = 3;
    fork.start_attempts = 2;
    fork.fork_block_number = 7;
    fork.kept_until = run.started_at;
    run.forks.push_back(fork);
    run.error = controller::RunError{controller::RunErrc::kRpcFailed, "failed", std::nullopt};
    run.cancellation =
        controller::Cancellation{"alice", run.started_at, "why \"now\"", run.started_at, {}};
    run.changes = json::parse(R"({"1": {"0xab": {"deltaWei": "-1"}}})").as_object();
    run.inspection_cu = 5;
    for (const auto& r : {run, controller::Run{}}) {
        for (const std::string& text : {run_to_json(r), run_summary_to_json(r)}) {
            EXPECT_EQ(json::serialize(json::parse(text)), text);
        }
    }
    const json::object o = json::parse(run_to_json(run)).as_object();
    EXPECT_EQ(o.at("workflowVersion"), json::value(run.workflow_version));
    EXPECT_EQ(o.at("executionState").at("nodes").at("a\"b").at("cu"),
              json::value(18446744073709551615u));
    EXPECT_EQ(o.at("executionState").at("cancellation").at("reason"), "why \"now\"");
    EXPECT_EQ(o.at("forkBlockNumbers").as_object().size(), 2u);
}

}  // namespace
}  // namespace forkrun::http
