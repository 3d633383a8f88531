// Tests for what the client commands print: a run, a page of runs, each event's line, the live
// progress line, and an HTTP error with every problem the server listed.
#include "app/cli_print.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <boost/json/parse.hpp>

namespace forkrun::app {
namespace {

namespace json = boost::json;

std::string printed_run(std::string_view run) {
    std::ostringstream out;
    print_run(out, json::parse(run).as_object());
    return out.str();
}

TEST(CliPrint, ARunWithItsNodesErrorAndCancellation) {
    EXPECT_EQ(printed_run(R"({"id": "run_1", "status": "cancelled", "workflowId": "wf",
        "workflowVersion": 2, "isSimulation": true, "simulationMode": "fork", "isDustTest": true,
        "startedAt": "2026-11-28T08:34:53.000Z", "finishedAt": null, "totalCu": 126,
        "executionState": {"nodes": {
            "root": {"status": "success", "cu": 0},
            "a_long_node": {"status": "failure", "cu": 126,
                            "error": {"code": "rpc_failed", "message": "timed out"}},
            "odd": 3},
          "error": {"code": "cancelled", "message": "the run was cancelled", "nodeId": "a_long_node"},
          "cancellation": {"requestedBy": "user_1", "requestedAt": "2026-11-28T08:34:54.000Z",
                           "reason": "enough"}}})"),
              "run run_1  cancelled\n"
              "  workflow  wf v2  simulation (fork)  dust test\n"
              "  started   2026-11-28T08:34:53.000Z  finished -\n"
              "  totalCu   126\n"
              "  nodes\n"
              "    root         success         0 CU\n"
              "    a_long_node  failure       126 CU  rpc_failed: timed out\n"
              "  error     cancelled: the run was cancelled (node a_long_node)\n"
              "  cancelled by user_1 at 2026-11-28T08:34:54.000Z: enough\n");
}

TEST(CliPrint, ALiveRunWithNothingElseKnown) {
    EXPECT_EQ(printed_run("{}"),
              "run -  -\n"
              "  workflow  - v-  live\n"
              "  started   -  finished -\n"
              "  totalCu   -\n");
}

TEST(CliPrint, APageOfRunsIsATableWithTheNextCursor) {
    std::ostringstream out;
    print_runs(out, json::parse(R"({"runs": [
        {"id": "run_1", "status": "success", "startedAt": "2026-11-28T08:34:53.000Z",
         "totalCu": 26, "workflowId": "wf", "workflowVersion": 1}, "junk"],
        "nextCursor": "abc"})")
                        .as_object());
    EXPECT_EQ(
        out.str(),
        "ID                          STATUS     STARTED                   CU        WORKFLOW\n"
        "run_1                       success    2026-11-28T08:34:53.000Z  26        wf v1\n"
        "(more: --cursor abc)\n");
    std::ostringstream empty;
    print_runs(empty, json::parse(R"({"runs": [], "nextCursor": null})").as_object());
    EXPECT_EQ(empty.str(), "no runs\n");
    std::ostringstream none;
    print_runs(none, json::object());
    EXPECT_EQ(none.str(), "no runs\n");
}

TEST(CliPrint, EachEventHasItsLine) {
    const auto line = [](const char* event, const char* data) {
        return event_line(SseEvent{"7", event, data});
    };
    EXPECT_EQ(line("run", R"({"status": "running", "previousStatus": "waiting", "totalCu": 0})"),
              "[7] run running (was waiting) cu 0");
    EXPECT_EQ(line("run", R"({"status": "running", "totalCu": 5})"), "[7] run running cu 5");
    EXPECT_EQ(line("node", R"({"nodeId": "a", "status": "failure", "cu": 26,
                               "error": {"code": "rpc_failed", "message": "boom"}})"),
              "[7] node a failure cu 26 rpc_failed: boom");
    EXPECT_EQ(line("fork", R"({"forkId": "fork_1", "chainId": 8453, "state": "ready"})"),
              "[7] fork fork_1 chain 8453 ready");
    EXPECT_EQ(line("cu", R"({"totalCu": 99})"), "[7] cu 99");
    EXPECT_EQ(line("cancellation", R"({"requestedBy": "u", "reason": "stop", "forks": [{}, {}]})"),
              "[7] cancellation by u: stop (2 forks torn down)");
    EXPECT_EQ(line("end", R"({"status": "success", "totalCu": 3, "finishedAt": "t"})"),
              "[7] end success cu 3 at t");
    EXPECT_EQ(line("snapshot", R"({"status": "waiting", "totalCu": 0})"),
              "[7] snapshot waiting cu 0");
    // Data that is not an object is printed as it came; an unknown event shows only its name.
    EXPECT_EQ(line("run", "not json"), "[7] run not json");
    EXPECT_EQ(line("later", R"({"x": 1})"), "[7] later");
}

TEST(CliPrint, TheProgressLineCountsFinishedNodes) {
    Progress progress(json::parse(R"({"id": "run_1", "status": "waiting", "totalCu": 0,
        "executionState": {"nodes": {"root": {"status": "pending"}, "a": {"status": "pending"},
                                     "b": {"status": "skipped"}}}})")
                          .as_object());
    EXPECT_EQ(progress.line(), "\r\x1b[Krun_1  waiting  nodes 1/3  0 CU");
    EXPECT_TRUE(progress.apply(SseEvent{"1", "run", R"({"status": "running", "totalCu": 0})"}));
    EXPECT_TRUE(
        progress.apply(SseEvent{"2", "node", R"({"nodeId": "root", "status": "success"})"}));
    EXPECT_TRUE(progress.apply(SseEvent{"3", "node", R"({"nodeId": "a", "status": "running"})"}));
    EXPECT_TRUE(progress.apply(SseEvent{"4", "cu", R"({"totalCu": 26})"}));
    EXPECT_EQ(progress.line(), "\r\x1b[Krun_1  running  nodes 2/3  26 CU");
    EXPECT_FALSE(progress.apply(SseEvent{"5", "fork", R"({"forkId": "f"})"}));
    EXPECT_FALSE(progress.apply(SseEvent{"6", "node", "garbage"}));
    EXPECT_TRUE(progress.apply(SseEvent{"7", "end", R"({"status": "success", "totalCu": 30})"}));
    EXPECT_EQ(progress.line(), "\r\x1b[Krun_1  success  nodes 2/3  30 CU");
}

TEST(CliPrint, AnHttpErrorListsEveryProblemAndExitsTwo) {
    ClientResponse r;
    r.status = 400;
    r.body = R"({"code": "invalid_request", "message": "the body has 2 problems",
        "data": {"errors": [{"path": "/workflowId", "message": "is required"},
                            {"path": "/chains/0", "message": "must be a positive integer"}]}})";
    std::ostringstream err;
    EXPECT_EQ(report_http_error(err, "runs create", "http://127.0.0.1:8080", r), 2);
    EXPECT_EQ(err.str(),
              "forkrun: runs create: HTTP 400: the body has 2 problems\n"
              "  /workflowId: is required\n"
              "  /chains/0: must be a positive integer\n");
    // A body that is not JSON is quoted, cut at 200 characters.
    r.status = 502;
    r.body = std::string(300, 'x');
    std::ostringstream proxy;
    EXPECT_EQ(report_http_error(proxy, "runs get", "s", r), 2);
    EXPECT_EQ(proxy.str(), "forkrun: runs get: HTTP 502: " + std::string(200, 'x') + "\n");
    // No answer at all.
    ClientResponse none;
    none.error = "Connection refused";
    std::ostringstream down;
    EXPECT_EQ(report_http_error(down, "runs list", "http://127.0.0.1:1", none), 2);
    EXPECT_EQ(down.str(),
              "forkrun: runs list: no answer from http://127.0.0.1:1: Connection refused\n");
}

}  // namespace
}  // namespace forkrun::app
