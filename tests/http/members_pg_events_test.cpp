// The organization stream across the members of one real PostgreSQL 15 (decision 84): a member's
// `GET /v1/events` shows the `run` and `end` events of runs another member owns, in order and
// none of another organization's, resumes with Last-Event-ID; a lost controller's runs end on
// the other members' streams (and in their stored event streams) when they are finished; a
// restarted controller streams the runs it read back from their stored events.
#include <algorithm>
#include <map>
#include <set>

#include "http/pg_members.hpp"
#include "http/sse_client.hpp"

namespace forkrun::http::test {
namespace {

// Both members have heartbeaten since `id` started: the relay of each reads from then on.
void wait_relay_started(const PgServer& pg, const std::string& id) {
    EXPECT_TRUE(becomes(pg,
                        "SELECT heartbeat_at > started_at + interval '1200 milliseconds' FROM "
                        "members WHERE id = '" +
                            id + "'",
                        "t", 10s));
}

// The org events of `run_id` among `events`, as "type:status" (an end as "end:status").
std::vector<std::string> org_events_of(const std::vector<SseEvent>& events,
                                       const std::string& run_id) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        if (data_str(e, "runId") == run_id) {
            out.push_back(e.type + ":" + data_str(e, "status"));
        }
    }
    return out;
}

bool ended(const std::vector<SseEvent>& events, const std::string& run_id) {
    for (const auto& e : events) {
        if (e.type == "end" && data_str(e, "runId") == run_id) {
            return true;
        }
    }
    return false;
}

// Each event of `run_id` among `events` as its type and data.
std::vector<std::string> data_of_run(const std::vector<SseEvent>& events,
                                     const std::string& run_id) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        if (data_str(e, "runId") == run_id) {
            out.push_back(e.type + " " + json::serialize(e.data));
        }
    }
    return out;
}

TEST(PgMemberOrgEvents, AnOrganizationStreamOnOneMemberShowsAnotherMembersRuns) {
    TwoMembers m;
    wait_relay_started(m.pg, "b");
    auto& [pg, dir, a, b, on_a, on_b] = m;

    SseClient all(b->port(), "/v1/events");
    ASSERT_EQ(all.read_head(), 200) << all.head();
    SseClient owners(a->port(), "/v1/events");
    ASSERT_EQ(owners.read_head(), 200);
    const std::string workflow = unique_workflow_id("orgrelay");
    SseClient filtered(b->port(), "/v1/events?workflowId=" + workflow);
    ASSERT_EQ(filtered.read_head(), 200);

    const std::string on_a_run = str_at(on_a.create_ok(wait_run(workflow, 0.2)), "id");
    const std::string other_org = str_at(on_a.create_ok(quick_run(workflow), kTokenBRw), "id");
    const std::string on_b_run = str_at(on_b.create_ok(quick_run("local")), "id");

    const auto events =
        all.read([&](const auto& es) { return ended(es, on_a_run) && ended(es, on_b_run); });
    ASSERT_TRUE(ended(events, on_a_run)) << describe(events);
    // A's run on B: every event A's own organization stream sent of it, in order, same data.
    const auto on_owner = owners.read([&](const auto& es) { return ended(es, on_a_run); });
    EXPECT_EQ(data_of_run(events, on_a_run), data_of_run(on_owner, on_a_run));
    const auto seen = org_events_of(events, on_a_run);
    ASSERT_GE(seen.size(), 4u) << describe(events);
    EXPECT_EQ(seen.front(), "run:waiting");
    EXPECT_EQ(seen[seen.size() - 2], "run:success");
    EXPECT_EQ(seen.back(), "end:success");
    const auto local = org_events_of(events, on_b_run);
    ASSERT_GE(local.size(), 3u) << describe(events);
    EXPECT_EQ(local.back(), "end:success");
    EXPECT_TRUE(org_events_of(events, other_org).empty()) << "another organization's run";
    expect_consecutive_ids(events, events.front().id);
    // The end says what GET says, on either member.
    for (const auto& e : events) {
        if (e.type == "end" && data_str(e, "runId") == on_a_run) {
            const auto run = data_of(on_b.run(on_a_run));
            EXPECT_EQ(e.data.at("totalCu"), run.at("totalCu"));
            EXPECT_EQ(data_str(e, "finishedAt"), str_at(run, "finishedAt"));
        }
    }

    // The filtered stream: only the workflow's runs of the organization.
    const auto only = filtered.read([&](const auto& es) { return ended(es, on_a_run); });
    EXPECT_EQ(org_events_of(only, on_a_run), seen) << describe(only);
    for (const auto& e : only) {
        EXPECT_EQ(data_str(e, "runId"), on_a_run) << describe(only);
    }

    // A resume on B after the first two events: exactly the rest B had sent.
    SseClient again(b->port(), "/v1/events", kTokenARw,
                    {{"Last-Event-ID", std::to_string(events[1].id)}});
    ASSERT_EQ(again.read_head(), 200);
    const auto rest = again.read([&](const auto& es) { return es.size() + 2 >= events.size(); });
    ASSERT_EQ(rest.size() + 2, events.size()) << describe(rest);
    EXPECT_EQ(describe(rest), describe(std::vector<SseEvent>(events.begin() + 2, events.end())));
}

TEST(PgMemberOrgEvents, ABurstOfAnotherMembersRunsArrivesWholeAndInOrder) {
    TwoMembers m;
    wait_relay_started(m.pg, "b");
    SseClient all(m.b->port(), "/v1/events");
    ASSERT_EQ(all.read_head(), 200);
    // More runs than one NOTIFY names (250) and more `run`/`end` events than one read (1000).
    constexpr int kRuns = 600;
    std::set<std::string> created;
    for (int i = 0; i < kRuns; ++i) {
        created.insert(str_at(m.on_a.create_ok(quick_run("burst")), "id"));
    }
    auto ends = [&](const std::vector<SseEvent>& es) {
        std::size_t n = 0;
        for (const auto& e : es) {
            n += e.type == "end" ? 1 : 0;
        }
        return n;
    };
    const auto events = all.read([&](const auto& es) { return ends(es) >= kRuns; }, 60s);
    ASSERT_EQ(ends(events), static_cast<std::size_t>(kRuns));
    expect_consecutive_ids(events, events.front().id);
    // Each run once: its first event `waiting`, its last `end`, nothing of it after its end.
    std::map<std::string, std::vector<std::string>> by_run;
    for (const auto& e : events) {
        by_run[data_str(e, "runId")].push_back(e.type + ":" + data_str(e, "status"));
    }
    ASSERT_EQ(by_run.size(), created.size());
    for (const auto& [id, seen] : by_run) {
        ASSERT_TRUE(created.contains(id)) << id;
        EXPECT_EQ(seen.front(), "run:waiting") << id;
        EXPECT_EQ(seen.back(), "end:success") << id;
        EXPECT_EQ(std::count(seen.begin(), seen.end(), "end:success"), 1) << id;
    }
}

TEST(PgMemberOrgEvents, TheRelayGoesOnAfterTheDatabaseRestarts) {
    TwoMembers m;
    wait_relay_started(m.pg, "b");
    SseClient all(m.b->port(), "/v1/events");
    ASSERT_EQ(all.read_head(), 200);
    const std::string before = str_at(m.on_a.create_ok(quick_run("restart")), "id");
    ASSERT_TRUE(ended(all.read([&](const auto& es) { return ended(es, before); }), before));

    m.pg.stop();
    m.pg.start();
    // The stream on B stayed open; A's next run reaches it once both are connected again.
    const std::string after = str_at(m.on_a.create_ok(quick_run("restart")), "id");
    ASSERT_FALSE(after.empty());
    const auto events = all.read([&](const auto& es) { return ended(es, after); }, 30s);
    ASSERT_TRUE(ended(events, after)) << describe(events);
    EXPECT_EQ(org_events_of(events, after).front(), "run:waiting");
    expect_consecutive_ids(events, events.front().id);
    EXPECT_EQ(org_events_of(events, before).size(), org_events_of(events, after).size())
        << "nothing of the first run again, nothing of the second missing";
}

TEST(PgMemberOrgEvents, ALostControllersRunsEndOnTheOtherMembersStreams) {
    TwoMembers m;
    wait_relay_started(m.pg, "b");
    auto& [pg, dir, a, b, on_a, on_b] = m;

    SseClient org(b->port(), "/v1/events");
    ASSERT_EQ(org.read_head(), 200);
    const std::string live =
        str_at(on_a.create_ok(wait_run(unique_workflow_id("lost"), 600)), "id");
    // Its wait node holds it `waiting` again after `running`.
    const std::vector<std::string> before{"run:waiting", "run:running", "run:waiting"};
    const auto waiting =
        org.read([&](const auto& es) { return org_events_of(es, live) == before; });
    ASSERT_EQ(org_events_of(waiting, live), before) << describe(waiting);
    // The run's own stream on B, from its first event.
    SseClient stream(b->port(), "/v1/runs/" + live + "/events");
    ASSERT_EQ(stream.read_head(), 200);

    a->stop(SIGKILL);
    const auto events = org.read([&](const auto& es) { return ended(es, live); }, kLease + 10s);
    ASSERT_EQ(org_events_of(events, live),
              (std::vector<std::string>{"run:waiting", "run:running", "run:waiting", "run:failure",
                                        "end:failure"}))
        << describe(events);
    EXPECT_EQ(data_str(events[events.size() - 2], "previousStatus"), "waiting");
    const auto run = data_of(on_b.run(live));
    EXPECT_EQ(value_at(run, "/executionState/error/code"), json::value("controllerLost"));
    EXPECT_EQ(events.back().data.at("totalCu"), run.at("totalCu"));
    EXPECT_EQ(data_str(events.back(), "finishedAt"), str_at(run, "finishedAt"));

    // The run's stream on B ends the same way, from its stored events: ids 1..n, no gap.
    const auto own = stream.read_to_close(10s);
    ASSERT_TRUE(has_end(own)) << describe(own);
    expect_consecutive_ids(own, 1);
    ASSERT_GE(own.size(), 2u);
    EXPECT_EQ(own[own.size() - 2].type, "run");
    EXPECT_EQ(data_str(own[own.size() - 2], "status"), "failure");
    EXPECT_EQ(data_str(own.back(), "status"), "failure");
    EXPECT_EQ(pg.value("SELECT string_agg(type, ',' ORDER BY seq) FROM run_events WHERE run_id "
                       "= '" +
                       live + "' AND type IN ('run', 'end')"),
              "run,run,run,run,end");
}

TEST(PgMemberOrgEvents, ARestartedControllersRunsAreStreamedFromTheirStoredEvents) {
    PgServer pg;
    TempDir dir;
    auto a = member(pg, dir, "a");
    Api on_a(a->base_url());
    const std::string done = str_at(on_a.create_ok(quick_run(unique_workflow_id("done"))), "id");
    const std::string live =
        str_at(on_a.create_ok(wait_run(unique_workflow_id("left"), 600)), "id");
    const std::string sql =
        "SELECT string_agg(type || ':' || (data->>'status'), ',' ORDER BY "
        "seq) FROM run_events WHERE run_id = '" +
        live + "' AND type IN ('run', 'end')";
    ASSERT_TRUE(becomes(pg, sql, "run:waiting,run:running,run:waiting", 10s)) << pg.value(sql);
    // The finished run's stream on its owner, before the restart.
    SseClient before(a->port(), "/v1/runs/" + done + "/events");
    ASSERT_EQ(before.read_head(), 200);
    const auto done_events = before.read_to_close(10s);
    ASSERT_TRUE(has_end(done_events)) << describe(done_events);
    ASSERT_TRUE(becomes(pg, "SELECT count(*) FROM run_events WHERE run_id = '" + done + "'",
                        std::to_string(done_events.size()), 10s));
    a->stop(SIGKILL);
    a = member(pg, dir, "a");
    EXPECT_EQ(pg.value(sql), "run:waiting,run:running,run:waiting,run:failure,end:failure");
    EXPECT_EQ(pg.value("SELECT data->>'previousStatus' FROM run_events WHERE run_id = '" + live +
                       "' AND type = 'run' AND data->>'status' = 'failure'"),
              "waiting");
    // Numbered after the owner's last event, with no gap.
    EXPECT_EQ(pg.value("SELECT max(seq) = count(*) FROM run_events WHERE run_id = '" + live + "'"),
              "t");
    // The restarted owner streams both from the database: every event, as before the restart.
    SseClient again(a->port(), "/v1/runs/" + done + "/events");
    ASSERT_EQ(again.read_head(), 200);
    EXPECT_EQ(describe(again.read_to_close(10s)), describe(done_events));
    SseClient stream(a->port(), "/v1/runs/" + live + "/events");
    ASSERT_EQ(stream.read_head(), 200);
    const auto own = stream.read_to_close(10s);
    ASSERT_TRUE(has_end(own)) << describe(own);
    expect_consecutive_ids(own, 1);
    ASSERT_GE(own.size(), 2u);
    EXPECT_EQ(data_str(own[own.size() - 2], "status"), "failure");
    EXPECT_EQ(data_str(own.back(), "status"), "failure");
    // A resume after the third event: the rest.
    SseClient tail(a->port(), "/v1/runs/" + live + "/events?lastEventId=3");
    ASSERT_EQ(tail.read_head(), 200);
    const auto rest = tail.read_to_close(10s);
    ASSERT_EQ(rest.size() + 3, own.size()) << describe(rest);
    expect_consecutive_ids(rest, 4);
}

}  // namespace
}  // namespace forkrun::http::test
