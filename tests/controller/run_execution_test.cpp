// RunExecution without anvil (FakeChainProvider): the order children run in, skipped branches,
// a failure stopping its siblings, a cancel mid-run, CU totals and children run in parallel.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "controller/fake_chain_provider.hpp"
#include "controller/run_execution.hpp"
#include "controller/run_request.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

/// `Run` inside a TEST names testing::Test::Run.
using RunState = ::forkrun::controller::Run;

using Answer = FakeChainProvider::Answer;

/// A live run of `nodes` (a JSON object of the definition's nodes) on chain 1.
NewRun new_run(std::string_view nodes) {
    json::object body{{"workflowId", "wf_graph"},
                      {"workflowVersion", 1},
                      {"workflowDefinition", json::object{{"inputSchema", json::array()},
                                                          {"nodes", json::parse(nodes)}}}};
    RunRequestContext ctx;
    ctx.organization_id = "org_a";
    ctx.subject = "alice";
    ctx.enabled_types = NodeTypeSet::all();
    ctx.has_upstream = [](std::uint64_t) { return true; };
    auto decoded = decode_run_request(body, ctx);
    EXPECT_TRUE(decoded) << (decoded ? ""
                                     : decoded.error().front().path + ": " +
                                           decoded.error().front().message);
    return std::move(*decoded);
}

/// One run driven on its own io_context until it is done, or a deadline passes.
class Harness {
  public:
    Harness(std::string_view nodes, FakeChainProvider::Script script) : chains(std::move(script)) {
        NewRun n = new_run(nodes);
        n.run.id = "run_test";
        n.run.started_at = Clock::now();
        record = std::make_shared<RunRecord>(std::move(n.run), 1);
        exec = std::make_shared<RunExecution>(ioc.get_executor(), record, std::move(n.plan),
                                              &chains, nullptr, nullptr);
    }

    /// Starts the run and runs the context until `until` holds (or the run is done).
    bool start_until(const std::function<bool()>& until) {
        exec->start([this] { done = true; });
        return run_until(until);
    }

    bool run_until(const std::function<bool()>& until) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!until() && std::chrono::steady_clock::now() < deadline) {
            if (ioc.run_one_for(std::chrono::milliseconds(100)) == 0 && ioc.stopped()) {
                ioc.restart();
            }
        }
        return until();
    }

    bool finish() {
        return start_until([this] { return done; });
    }

    const NodeState& node(std::string_view id) const {
        for (const auto& n : run.nodes) {
            if (n.id == id) {
                return n;
            }
        }
        static const NodeState none;
        ADD_FAILURE() << "no node " << id;
        return none;
    }

    /// The run as it is now.
    const Run& read() {
        run = record->snapshot();
        return run;
    }

    std::vector<std::string> methods() const {
        std::vector<std::string> out;
        for (const auto& c : chains.calls) {
            out.push_back(c.method);
        }
        return out;
    }

    asio::io_context ioc;
    FakeChainProvider chains;
    std::shared_ptr<RunRecord> record;
    std::shared_ptr<RunExecution> exec;
    Run run;
    bool done = false;
};

std::string rpc(std::string_view method, std::string_view children = "") {
    return R"({"type": "rpc", "props": {"chainId": 1, "method": ")" + std::string(method) +
           R"("}, "children": [)" + std::string(children) + "]}";
}

Answer echo(const FakeChainProvider::Call& c) {
    return Answer{json::value(c.method), false};
}

TEST(RunExecution, AChildRunsOnlyAfterItsParentAndTheOutputsFollow) {
    Harness h(R"({"root": {"type": "manual", "children": ["a"]},
                  "a": )" +
                  rpc("m_a", R"("b")") + R"(,
                  "b": )" +
                  rpc("m_b") + "}",
              echo);
    ASSERT_TRUE(h.finish());
    const RunState& r = h.read();
    EXPECT_EQ(r.status, RunStatus::kSuccess);
    EXPECT_EQ(h.methods(), (std::vector<std::string>{"m_a", "m_b"}));
    EXPECT_EQ(h.node("a").output, "m_a");
    EXPECT_EQ(h.node("b").status, NodeStatus::kSuccess);
    EXPECT_EQ(h.chains.releases, 1u);
}

TEST(RunExecution, TotalCuIsTheSumOfEveryCallOfEveryNode) {
    Harness h(R"({"root": {"type": "manual", "children": ["a", "b"]},
                  "a": )" +
                  rpc("m_a") + R"(, "b": )" + rpc("m_b", R"("c")") + R"(,
                  "c": )" +
                  rpc("m_c") + "}",
              echo);
    h.chains.cu_per_call = 7;
    ASSERT_TRUE(h.finish());
    const RunState& r = h.read();
    EXPECT_EQ(h.node("a").cu, 7u);
    EXPECT_EQ(h.node("c").cu, 7u);
    EXPECT_EQ(r.total_cu(), 21u);
}

TEST(RunExecution, AFailedNodeFailsTheRunSkipsWhatFollowsItAndStopsItsSiblings) {
    Harness h(R"({"root": {"type": "manual", "children": ["slow", "bad"]},
                  "slow": )" +
                  rpc("m_slow", R"("after_slow")") + R"(,
                  "after_slow": )" +
                  rpc("m_after_slow") + R"(,
                  "bad": )" +
                  rpc("m_bad", R"("after_bad")") + R"(,
                  "after_bad": )" +
                  rpc("m_after_bad") + "}",
              [](const FakeChainProvider::Call& c) {
                  if (c.method == "m_bad") {
                      return Answer{ErrorInfo{RunErrc::kRpcError, "execution reverted"}, false};
                  }
                  return Answer{json::value(), c.method == "m_slow"};
              });
    ASSERT_TRUE(h.finish());
    const RunState& r = h.read();
    EXPECT_EQ(r.status, RunStatus::kFailure);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, RunErrc::kRpcError);
    EXPECT_EQ(r.error->node_id, "bad");
    EXPECT_EQ(h.node("bad").status, NodeStatus::kFailure);
    EXPECT_EQ(h.node("slow").status, NodeStatus::kCancelled);
    ASSERT_TRUE(h.node("slow").error);
    EXPECT_EQ(h.node("slow").error->code, RunErrc::kInterrupted);
    EXPECT_EQ(h.node("after_bad").status, NodeStatus::kSkipped);
    EXPECT_EQ(h.node("after_slow").status, NodeStatus::kSkipped);
    EXPECT_EQ(h.chains.cancelled, 1u);
    EXPECT_EQ(h.chains.releases, 1u);
}

TEST(RunExecution, ACancelMidRunEndsTheCallInFlightAndTheRestNeverRuns) {
    Harness h(R"({"root": {"type": "manual", "children": ["a"]},
                  "a": )" +
                  rpc("m_a", R"("b")") + R"(, "b": )" + rpc("m_b") + "}",
              [](const FakeChainProvider::Call& c) {
                  return Answer{json::value(), c.method == "m_a"};
              });
    ASSERT_TRUE(h.start_until([&] { return h.chains.held == 1; }));
    std::optional<bool> won;
    asio::co_spawn(
        h.exec->strand(),
        [&]() -> asio::awaitable<void> {
            won = co_await h.exec->cancel("alice", std::string("enough"));
        },
        asio::detached);
    ASSERT_TRUE(h.run_until([&] { return won.has_value() && h.done; }));
    EXPECT_TRUE(*won);
    const RunState& r = h.read();
    EXPECT_EQ(r.status, RunStatus::kCancelled);
    ASSERT_TRUE(r.cancellation);
    EXPECT_EQ(r.cancellation->requested_by, "alice");
    EXPECT_EQ(h.node("a").status, NodeStatus::kCancelled);
    EXPECT_FALSE(h.node("a").error);
    EXPECT_EQ(h.node("b").status, NodeStatus::kCancelled);
    EXPECT_EQ(h.methods(), (std::vector<std::string>{"m_a"}));
    EXPECT_EQ(h.chains.releases, 1u);
}

TEST(RunExecution, SiblingsRunInParallel) {
    // Both calls are held until the second has started: run one after the other, they could
    // never both be held at once.
    Harness h(R"({"root": {"type": "manual", "children": ["a", "b"]},
                  "a": )" +
                  rpc("m_a", R"("c")") + R"(, "b": )" + rpc("m_b", R"("c")") + R"(,
                  "c": )" +
                  rpc("m_c") + "}",
              [](const FakeChainProvider::Call& c) {
                  return Answer{json::value(), c.method != "m_c"};
              });
    ASSERT_TRUE(h.start_until([&] { return h.chains.held == 2; }));
    EXPECT_EQ(h.methods(), (std::vector<std::string>{"m_a", "m_b"}));
    h.chains.let_go();
    ASSERT_TRUE(h.run_until([&] { return h.done; }));
    EXPECT_EQ(h.read().status, RunStatus::kSuccess);
    EXPECT_EQ(h.methods().back(), "m_c") << "a node with two parents runs after both";
}

TEST(RunExecution, AFailedProvisioningRunsNoNodeAndStillReleases) {
    Harness h(R"({"root": {"type": "manual", "children": ["a"]}, "a": )" + rpc("m_a") + "}", echo);
    h.chains.provision_error = RunError{RunErrc::kProvisioningFailed, "no anvil", std::nullopt};
    ASSERT_TRUE(h.finish());
    const RunState& r = h.read();
    EXPECT_EQ(r.status, RunStatus::kFailure);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, RunErrc::kProvisioningFailed);
    EXPECT_TRUE(h.chains.calls.empty());
    EXPECT_EQ(h.node("root").status, NodeStatus::kSkipped);
    EXPECT_EQ(h.node("a").status, NodeStatus::kSkipped);
    EXPECT_EQ(h.chains.releases, 1u);
}

TEST(RunExecution, ABranchAfterAFailedAssertIsSkippedWhileTheOtherBranchHadFinished) {
    Harness h(R"({"root": {"type": "manual", "children": ["check", "a"]},
                  "a": )" +
                  rpc("m_a") + R"(,
                  "check": {"type": "assert", "props": {"value": "1", "equals": "2"},
                            "children": ["never"]},
                  "never": )" +
                  rpc("m_never") + "}",
              echo);
    ASSERT_TRUE(h.finish());
    const RunState& r = h.read();
    EXPECT_EQ(r.status, RunStatus::kFailure);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code, RunErrc::kAssertionFailed);
    EXPECT_EQ(h.node("never").status, NodeStatus::kSkipped);
    for (const auto& m : h.methods()) {
        EXPECT_NE(m, "m_never");
    }
}

}  // namespace
}  // namespace forkrun::controller
