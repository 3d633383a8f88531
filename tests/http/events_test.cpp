// GET /v1/runs/{id}/events and GET /v1/events against a real server: order, resume, cancel,
// organizations, slow consumers, a simulation's forks.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"
#include "http/sse_client.hpp"

namespace forkrun::http::test {
namespace {

using Clock = std::chrono::steady_clock;

/// The local port of a connected socket.
std::uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

/// Whether the loopback connection from `server_port` to `client_port` is still established on
/// the server's side (/proc/net/tcp: state 01). A server that closed it leaves FIN-WAIT states,
/// whatever the kernel still holds unsent for a client that does not read.
bool server_side_established(std::uint16_t server_port, std::uint16_t client_port) {
    std::ifstream tcp("/proc/net/tcp");
    char local[16];
    char remote[16];
    std::snprintf(local, sizeof local, ":%04X", server_port);
    std::snprintf(remote, sizeof remote, ":%04X", client_port);
    for (std::string line; std::getline(tcp, line);) {
        std::istringstream in(line);
        std::string sl, l, r, st;
        in >> sl >> l >> r >> st;
        if (l.ends_with(local) && r.ends_with(remote)) {
            return st == "01";
        }
    }
    return false;
}

std::int64_t vm_rss_kb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.starts_with("VmRSS:")) {
            return std::stoll(line.substr(6));
        }
    }
    return -1;
}

/// root -> w (wait `seconds`) -> a (assert) and b (assert).
json::object three_step_run(double seconds) {
    return run_request(unique_workflow_id("ev"),
                       json::object{{"root", root({"w"})},
                                    {"w", wait_node(seconds, {"a", "b"})},
                                    {"a", assert_node("1", "equals", "1")},
                                    {"b", assert_node("2", "equals", "2")}});
}

class EventsTest : public ::testing::Test {
  protected:
    // A short idle timeout: an event stream waits longer than it without being closed.
    void SetUp() override {
        ServerOptions opts;
        opts.extra_args = {"--idle-timeout-ms", "300"};
        server_ = std::make_unique<ServerProcess>(opts);
        api_ = std::make_unique<Api>(server_->base_url());
    }
    const Api& api() const { return *api_; }
    std::uint16_t port() const { return server_->port(); }

    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<Api> api_;
};

TEST_F(EventsTest, FollowsARunFromCreationToEnd) {
    const auto created = api().create_ok(three_step_run(0.8));
    const std::string id = str_at(created, "id");
    SseClient sse(port(), "/v1/runs/" + id + "/events");
    ASSERT_EQ(sse.read_head(), 200) << sse.head();
    EXPECT_TRUE(sse.header("Content-Type").starts_with("text/event-stream")) << sse.head();
    EXPECT_EQ(sse.header("Cache-Control"), "no-cache") << sse.head();
    const auto events = sse.read_to_close();
    ASSERT_TRUE(has_end(events)) << describe(events);
    EXPECT_TRUE(sse.closed()) << "the stream closes after end";
    expect_consecutive_ids(events, 1);

    std::vector<std::string> run_statuses;
    std::map<std::string, std::vector<std::string>> node_statuses;
    for (const auto& e : events) {
        EXPECT_EQ(data_str(e, "runId"), e.type == "cancellation" ? "" : id);
        if (e.type == "run") {
            run_statuses.push_back(data_str(e, "status"));
            EXPECT_TRUE(is_timestamp(e.data.at("at"))) << json::serialize(e.data);
        } else if (e.type == "node") {
            node_statuses[data_str(e, "nodeId")].push_back(data_str(e, "status"));
        }
    }
    EXPECT_EQ(events.front().type, "run");
    EXPECT_TRUE(events.front().data.at("previousStatus").is_null());
    // Each entry is a change: it starts waiting, ends in success, has run, never repeats.
    ASSERT_GE(run_statuses.size(), 3u) << describe(events);
    EXPECT_EQ(run_statuses.front(), "waiting");
    EXPECT_EQ(run_statuses.back(), "success");
    EXPECT_NE(std::find(run_statuses.begin(), run_statuses.end(), "running"), run_statuses.end());
    for (std::size_t i = 1; i < run_statuses.size(); ++i) {
        EXPECT_NE(run_statuses[i], run_statuses[i - 1]) << describe(events);
    }
    const std::vector<std::string> ran{"running", "success"};
    EXPECT_EQ(node_statuses["root"], ran);
    EXPECT_EQ(node_statuses["w"], (std::vector<std::string>{"running", "waiting", "success"}));
    EXPECT_EQ(node_statuses["a"], ran);
    EXPECT_EQ(node_statuses["b"], ran);

    const auto final_run = data_of(api().run(id));
    const auto& end = events.back().data.as_object();
    EXPECT_EQ(str_at(end, "status"), str_at(final_run, "status"));
    EXPECT_EQ(end.at("totalCu"), final_run.at("totalCu"));
    EXPECT_EQ(end.at("finishedAt"), final_run.at("finishedAt"));
}

TEST_F(EventsTest, ResumeAfterADisconnectGetsExactlyTheMissingEvents) {
    const std::string id = str_at(api().create_ok(three_step_run(0.5)), "id");
    std::vector<SseEvent> first;
    {
        SseClient sse(port(), "/v1/runs/" + id + "/events");
        ASSERT_EQ(sse.read_head(), 200);
        first = sse.read([](const auto& ev) { return ev.size() >= 3; });
        ASSERT_GE(first.size(), 3u) << describe(first);
        first.resize(3);
    }  // disconnected in the middle of the run
    api().wait_terminal(id);
    SseClient full(port(), "/v1/runs/" + id + "/events");
    ASSERT_EQ(full.read_head(), 200);
    const auto all = full.read_to_close();
    ASSERT_TRUE(has_end(all)) << describe(all);

    for (const auto& resume :
         {std::pair<std::string, std::vector<std::pair<std::string, std::string>>>{
              "/v1/runs/" + id + "/events", {{"Last-Event-ID", "3"}}},
          {"/v1/runs/" + id + "/events?lastEventId=3", {}}}) {
        SseClient sse(port(), resume.first, kTokenARw, resume.second);
        ASSERT_EQ(sse.read_head(), 200);
        const auto rest = sse.read_to_close();
        ASSERT_TRUE(has_end(rest)) << describe(rest);
        ASSERT_EQ(first.size() + rest.size(), all.size()) << describe(rest);
        expect_consecutive_ids(rest, 4);
        for (std::size_t i = 0; i < rest.size(); ++i) {
            EXPECT_EQ(rest[i].type, all[i + 3].type);
            EXPECT_EQ(rest[i].data, all[i + 3].data);
        }
    }
    for (std::size_t i = 0; i < first.size(); ++i) {
        EXPECT_EQ(first[i].data, all[i].data);
    }
}

TEST_F(EventsTest, ACancelShowsItsRecordThenTheEnd) {
    const std::string id = str_at(api().create_ok(three_step_run(30)), "id");
    SseClient sse(port(), "/v1/runs/" + id + "/events");
    ASSERT_EQ(sse.read_head(), 200);
    auto seen = sse.read([](const auto& ev) {
        return std::any_of(ev.begin(), ev.end(), [](const SseEvent& e) {
            return e.type == "node" && data_str(e, "nodeId") == "w" &&
                   data_str(e, "status") == "waiting";
        });
    });
    ASSERT_FALSE(sse.closed()) << describe(seen);
    const auto c = api().cancel(id, kTokenARw, "seen on the stream");
    ASSERT_EQ(c.status, 200) << c.body;
    const auto events = sse.read_to_close();
    ASSERT_TRUE(has_end(events)) << describe(events);
    expect_consecutive_ids(events, 1);
    const auto cancellation = std::find_if(events.begin(), events.end(),
                                           [](const auto& e) { return e.type == "cancellation"; });
    ASSERT_NE(cancellation, events.end()) << describe(events);
    EXPECT_EQ(std::count_if(events.begin(), events.end(),
                            [](const auto& e) { return e.type == "cancellation"; }),
              1);
    EXPECT_EQ(str_at(cancellation->data.as_object(), "reason"), "seen on the stream");
    EXPECT_EQ(str_at(cancellation->data.as_object(), "requestedBy"), kSubjectA);
    EXPECT_TRUE(is_timestamp(cancellation->data.at("completedAt")));
    EXPECT_EQ(cancellation->data, value_at(data_of(c), "/executionState/cancellation"));
    const auto& end = events.back().data.as_object();
    EXPECT_EQ(str_at(end, "status"), "cancelled");
    EXPECT_EQ(end.at("totalCu"), data_of(api().run(id)).at("totalCu"));
    const auto& last_run = events[events.size() - 2];
    EXPECT_EQ(last_run.type, "run");
    EXPECT_EQ(data_str(last_run, "status"), "cancelled");
}

TEST_F(EventsTest, AKeptRunsEndComesAfterItsForksAreReleased) {
    auto body =
        sim_request("fork", json::array{31337},
                    json::object{{"root", root({"no"})}, {"no", assert_node("1", "equals", "2")}});
    body["keepForksOnFailure"] = 600;
    const std::string id = str_at(api().create_ok(body), "id");
    SseClient sse(port(), "/v1/runs/" + id + "/events");
    ASSERT_EQ(sse.read_head(), 200);
    auto seen = sse.read([](const auto& ev) {
        return std::any_of(ev.begin(), ev.end(), [](const SseEvent& e) {
            return e.type == "run" && data_str(e, "status") == "failure";
        });
    });
    ASSERT_FALSE(sse.closed()) << "the stream stays open while the fork is kept: "
                               << describe(seen);
    HttpRequest release = make_request("POST", "/v1/runs/" + id + "/release");
    release.headers.emplace_back("Authorization", std::string("Bearer ") + kTokenARw);
    ASSERT_EQ(api().send(std::move(release)).status, 200);
    const auto events = sse.read_to_close();
    ASSERT_TRUE(has_end(events)) << describe(events);
    expect_consecutive_ids(events, 1);
    std::vector<std::string> forks;  // the fork's states, in order
    std::size_t failed_at = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (events[i].type == "fork") {
            forks.push_back(data_str(events[i], "state"));
        } else if (events[i].type == "run" && data_str(events[i], "status") == "failure") {
            failed_at = i;
        }
    }
    EXPECT_EQ(forks, (std::vector<std::string>{"provisioning", "ready", "kept", "released"}))
        << describe(events);
    const auto& released = events[events.size() - 2];
    EXPECT_EQ(released.type, "fork") << describe(events);
    EXPECT_EQ(data_str(released, "state"), "released");
    EXPECT_GT(events.size() - 2, failed_at) << "released after the failure: " << describe(events);
    EXPECT_EQ(events.back().data.at("totalCu"), data_of(api().run(id)).at("totalCu"));
}

TEST_F(EventsTest, OrganizationStreamSeesItsOwnRunsOnlyFromNowOn) {
    const std::string before = str_at(api().create_ok(three_step_run(0)), "id");
    api().wait_terminal(before);
    const std::string workflow = unique_workflow_id("org");
    SseClient all(port(), "/v1/events");
    SseClient filtered(port(), "/v1/events?workflowId=" + workflow + "&isSimulation=false");
    ASSERT_EQ(all.read_head(), 200) << all.head();
    ASSERT_EQ(filtered.read_head(), 200) << filtered.head();
    EXPECT_TRUE(all.header("Content-Type").starts_with("text/event-stream"));

    // Another organization's run, and two of ours made on other connections.
    const std::string theirs = str_at(api().create_ok(three_step_run(0), kTokenBRw), "id");
    api().wait_terminal(theirs, 20s, kTokenBRw);
    const std::string other_wf = str_at(api().create_ok(three_step_run(0)), "id");
    auto body = three_step_run(0);
    body["workflowId"] = workflow;
    const std::string ours = str_at(api().create_ok(body), "id");
    auto ended = [&](const std::string& run) {
        return [run](const std::vector<SseEvent>& ev) {
            return std::any_of(ev.begin(), ev.end(), [&](const SseEvent& e) {
                return e.type == "end" && data_str(e, "runId") == run;
            });
        };
    };
    // The two runs end in either order: read until both have.
    const auto seen = all.read(
        [&](const std::vector<SseEvent>& ev) { return ended(ours)(ev) && ended(other_wf)(ev); });
    ASSERT_TRUE(ended(ours)(seen)) << describe(seen);
    ASSERT_TRUE(ended(other_wf)(seen)) << describe(seen);
    ASSERT_FALSE(seen.empty());
    expect_consecutive_ids(seen, seen.front().id);
    std::set<std::string> runs;
    for (const auto& e : seen) {
        EXPECT_TRUE(e.type == "run" || e.type == "end") << e.type;
        runs.insert(data_str(e, "runId"));
    }
    EXPECT_EQ(runs, (std::set<std::string>{other_wf, ours})) << describe(seen);

    const auto only = filtered.read(ended(ours));
    ASSERT_TRUE(ended(ours)(only)) << describe(only);
    for (const auto& e : only) {
        EXPECT_EQ(data_str(e, "runId"), ours) << describe(only);
    }
    EXPECT_FALSE(all.closed()) << "the organization stream never ends by itself";

    // Resuming the organization stream from an id it holds replays what followed.
    SseClient again(port(), "/v1/events", kTokenARw,
                    {{"Last-Event-ID", std::to_string(seen.front().id)}});
    ASSERT_EQ(again.read_head(), 200);
    const auto replay = again.read(ended(ours));
    ASSERT_TRUE(ended(ours)(replay)) << describe(replay);
    EXPECT_EQ(replay.front().id, seen.front().id + 1);
}

TEST_F(EventsTest, AnotherOrganizationsRunIs404AndNoTokenIs401) {
    const std::string id = str_at(api().create_ok(three_step_run(0)), "id");
    SseClient theirs(port(), "/v1/runs/" + id + "/events", kTokenBRw);
    ASSERT_EQ(theirs.read_head(), 404) << theirs.head();
    const auto get = api().run(id, kTokenBRw);
    EXPECT_EQ(get.status, 404);
    SseClient anonymous(port(), "/v1/runs/" + id + "/events", std::nullopt);
    EXPECT_EQ(anonymous.read_head(), 401) << anonymous.head();
    SseClient org(port(), "/v1/events", std::nullopt);
    EXPECT_EQ(org.read_head(), 401) << org.head();
    SseClient bad(port(), "/v1/runs/" + id + "/events?lastEventId=x");
    EXPECT_EQ(bad.read_head(), 400) << bad.head();
}

TEST_F(EventsTest, AConsumerThatNeverReadsIsDisconnectedAndCostsNoMemory) {
    // root -> w (wait) -> 4000 asserts: ~8000 node events, well over the 1 MiB a consumer may
    // fall behind.
    constexpr int kFan = 4000;
    json::object nodes;
    std::vector<std::string> children;
    for (int i = 0; i < kFan; ++i) {
        children.push_back("a" + std::to_string(i));
        nodes[children.back()] = assert_node("1", "equals", "1");
    }
    nodes["root"] = root({"w"});
    nodes["w"] = wait_node(1, children);
    const std::string id =
        str_at(api().create_ok(run_request(unique_workflow_id("slow"), nodes)), "id");
    SseClient slow(port(), "/v1/runs/" + id + "/events");
    ASSERT_EQ(slow.read_head(), 200);
    // Read up to w's wait, then never again.
    const auto early = slow.read([](const auto& ev) {
        return std::any_of(ev.begin(), ev.end(), [](const SseEvent& e) {
            return data_str(e, "nodeId") == "w" && data_str(e, "status") == "waiting";
        });
    });
    ASSERT_FALSE(slow.closed()) << describe(early);
    const auto client_port = local_port(slow.connection().fd());
    ASSERT_TRUE(server_side_established(port(), client_port));
    const auto rss_before = vm_rss_kb(server_->pid());
    const auto done = api().wait_terminal(id, 60s);
    EXPECT_EQ(str_at(done, "status"), "success") << "the run went on regardless";
    // The server dropped the consumer (its write stalled past the idle timeout, its queue past
    // 1 MiB) rather than hold what it did not read.
    const auto deadline = Clock::now() + 20s;
    while (server_side_established(port(), client_port) && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);  // polling a condition against a deadline
    }
    EXPECT_FALSE(server_side_established(port(), client_port));
    const auto rss_after = vm_rss_kb(server_->pid());
    EXPECT_LT(rss_after - rss_before, 64 * 1024) << "kB: " << rss_before << " -> " << rss_after;
    // A consumer that reads now gets what the server holds: the first events are gone, so a
    // snapshot of the finished run (with the latest id), then the end.
    SseClient reader(port(), "/v1/runs/" + id + "/events");
    ASSERT_EQ(reader.read_head(), 200);
    const auto events = reader.read_to_close();
    ASSERT_EQ(events.size(), 2u) << describe(events);
    EXPECT_EQ(events.front().type, "snapshot");
    EXPECT_EQ(str_at(events.front().data.as_object(), "id"), id);
    EXPECT_EQ(str_at(events.front().data.as_object(), "status"), "success");
    EXPECT_EQ(events.back().type, "end");
    EXPECT_EQ(events.front().id, events.back().id) << "the snapshot carries the latest id";
    EXPECT_GT(events.back().id, 2u * kFan);
}

TEST_F(EventsTest, ShutdownEndsRunStreamsWithTheirEndAndClosesTheRest) {
    const std::string id = str_at(api().create_ok(three_step_run(30)), "id");
    SseClient run_stream(port(), "/v1/runs/" + id + "/events");
    SseClient org_stream(port(), "/v1/events");
    ASSERT_EQ(run_stream.read_head(), 200);
    ASSERT_EQ(org_stream.read_head(), 200);
    run_stream.read([](const auto& ev) {
        return std::any_of(ev.begin(), ev.end(), [](const SseEvent& e) {
            return data_str(e, "nodeId") == "w" && data_str(e, "status") == "waiting";
        });
    });
    const auto exit = server_->stop(SIGTERM);
    EXPECT_TRUE(exit.clean()) << exit.describe();
    EXPECT_LT(exit.elapsed, 5s) << "open event streams must not hold up the shutdown";
    const auto events = run_stream.read_to_close(5s);
    EXPECT_TRUE(run_stream.closed());
    ASSERT_TRUE(has_end(events)) << describe(events);
    EXPECT_EQ(str_at(events.back().data.as_object(), "status"), "cancelled");
    org_stream.read_to_close(5s);
    EXPECT_TRUE(org_stream.closed());
}

TEST(EventsSimulation, APoolRunShowsItsForkComeUpAndGoBack) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
    Api api(server->base_url());
    const std::string id = str_at(
        api.create_ok(sim_request("pool", {31337},
                                  json::object{{"root", root({"id"})},
                                               {"id", rpc_node(31337, "eth_chainId", {"bn"})},
                                               {"bn", rpc_node(31337, "eth_blockNumber")}})),
        "id");
    SseClient sse(server->port(), "/v1/runs/" + id + "/events");
    ASSERT_EQ(sse.read_head(), 200);
    const auto events = sse.read_to_close(90s);
    ASSERT_TRUE(has_end(events)) << describe(events);
    expect_consecutive_ids(events, 1);
    std::vector<std::string> states;
    std::string fork_id;
    for (const auto& e : events) {
        if (e.type != "fork") {
            continue;
        }
        // A move in the pool's queue is a fork event too, with the same state.
        EXPECT_TRUE(e.data.is_object() && e.data.as_object().contains("queuePosition"))
            << json::serialize(e.data);
        if (states.empty() || states.back() != data_str(e, "state")) {
            states.push_back(data_str(e, "state"));
        }
        fork_id = data_str(e, "forkId");
        EXPECT_EQ(e.data.at("chainId"), json::value(31337));
        if (data_str(e, "state") == "ready") {
            EXPECT_TRUE(data_str(e, "rpcUrl").starts_with("http")) << json::serialize(e.data);
        }
    }
    EXPECT_EQ(states, (std::vector<std::string>{"provisioning", "ready", "released"}))
        << describe(events);
    const auto final_run = data_of(api.run(id));
    EXPECT_EQ(str_at(final_run, "status"), "success") << describe(events);
    EXPECT_FALSE(value_at(final_run, "/executionState/forks/" + fork_id).is_null());
    const auto& end = events.back().data.as_object();
    EXPECT_EQ(end.at("totalCu"), final_run.at("totalCu"));
    EXPECT_GT(number_of(end.at("totalCu")), 0);
}

}  // namespace
}  // namespace forkrun::http::test
