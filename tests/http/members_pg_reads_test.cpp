// Lists and event streams on every member of one real PostgreSQL 15 (decision 72): a list on
// either controller shows every run of the organization, merged with its own, in the contract's
// order, with cursors that work across pages and members; a run's event stream on a member that
// does not own it gives the owner's events, the same ids and types, to the `end`, and resumes.
#include <algorithm>
#include <set>

#include "http/pg_members.hpp"
#include "http/sse_client.hpp"

namespace forkrun::http::test {
namespace {

// The ids of one list page, and its next cursor ("" when none).
struct Page {
    std::vector<std::string> ids;
    std::vector<std::string> statuses;
    std::string next;
};

Page list_page(const Api& api, const std::string& query, std::string token = kTokenARw) {
    auto r = api.get("/v1/runs" + query, token);
    EXPECT_EQ(r.status, 200) << r.body;
    Page p;
    if (r.status != 200) {
        return p;
    }
    for (const auto& run : data_of(r).at("runs").as_array()) {
        p.ids.push_back(str_at(run.as_object(), "id"));
        p.statuses.push_back(str_at(run.as_object(), "status"));
        EXPECT_FALSE(run.as_object().contains("executionState")) << "a list item is a summary";
    }
    const auto& next = data_of(r).at("nextCursor");
    p.next = next.is_string() ? std::string(next.get_string()) : "";
    return p;
}

// Every id of the list through its cursors, `page` at a time, each page asked of the next of
// `apis` in turn (a cursor of one member continued on the other).
std::vector<std::string> list_all(const std::vector<const Api*>& apis,
                                  std::size_t page,
                                  const std::string& filter = "") {
    std::vector<std::string> out;
    std::string cursor;
    for (std::size_t n = 0; n < 100; ++n) {
        const auto p =
            list_page(*apis[n % apis.size()], "?limit=" + std::to_string(page) + filter +
                                                  (cursor.empty() ? "" : "&cursor=" + cursor));
        out.insert(out.end(), p.ids.begin(), p.ids.end());
        if (p.next.empty()) {
            break;
        }
        cursor = p.next;
    }
    return out;
}

// The organization's run ids newest first, as the database orders them.
std::vector<std::string> stored_order(const PgServer& pg, const std::string& where = "") {
    const auto joined = pg.value(
        "SELECT coalesce(string_agg(id, ',' ORDER BY org_seq DESC), '') FROM runs WHERE "
        "organization_id = (SELECT organization_id FROM runs WHERE owner_id = 'a' LIMIT 1)" +
        where);
    std::vector<std::string> ids;
    std::size_t at = 0;
    while (at < joined.size()) {
        auto comma = joined.find(',', at);
        if (comma == std::string::npos) {
            comma = joined.size();
        }
        ids.push_back(joined.substr(at, comma - at));
        at = comma + 1;
    }
    return ids;
}

// Lists `query` on `api` until it shows `want` (in that order), or the deadline.
bool lists(const Api& api,
           const std::string& query,
           const std::vector<std::string>& want,
           std::chrono::milliseconds within = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
        if (list_page(api, query).ids == want) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        // Polling a condition against a deadline (B first hears of A at a heartbeat).
        std::this_thread::sleep_for(50ms);
    }
}

TEST(PgMemberReads, AListOnEitherMemberShowsEveryRunOfTheOrganization) {
    TwoMembers m;
    auto [pg, on_a, on_b] = m.parts();

    // Created in turn on A and B: live waits on A, quick runs on both; one of another
    // organization on A.
    const std::string waits = unique_workflow_id("wa");
    std::vector<std::string> live;
    std::vector<std::string> quick;
    for (int i = 0; i < 3; ++i) {
        live.push_back(str_at(on_a.create_ok(wait_run(waits, 600)), "id"));
        quick.push_back(str_at(on_b.create_ok(quick_run(unique_workflow_id("qb"))), "id"));
        quick.push_back(str_at(on_a.create_ok(quick_run(unique_workflow_id("qa"))), "id"));
    }
    const std::string other = str_at(on_a.create_ok(quick_run("other"), kTokenBRw), "id");
    for (const auto& id : quick) {
        EXPECT_EQ(str_at(on_a.wait_terminal(id), "status"), "success") << id;
    }
    // Their final rows are written behind (within about 150 ms of the end).
    ASSERT_TRUE(becomes(pg, "SELECT count(*) FROM runs WHERE status = 'success'", "7", 5s));
    const auto all = stored_order(pg);
    ASSERT_EQ(all.size(), 9u);
    ASSERT_TRUE(lists(on_b, "", all)) << "B lists " << list_page(on_b, "").ids.size();
    ASSERT_TRUE(lists(on_a, "", all)) << "A lists " << list_page(on_a, "").ids.size();

    // Filters: A's live runs by workflow, on B; the finished ones by status (their last write
    // on their owner comes a moment after the run ends).
    const std::vector<std::string> live_newest(live.rbegin(), live.rend());
    EXPECT_EQ(list_page(on_b, "?workflowId=" + waits).ids, live_newest);
    EXPECT_TRUE(lists(on_b, "?status=success", stored_order(pg, " AND status = 'success'")));
    EXPECT_EQ(list_page(on_b, "?status=success&workflowId=" + waits).ids.size(), 0u);
    EXPECT_EQ(list_page(on_b, "?isSimulation=true").ids.size(), 0u);

    // Cursors: pages of 2 on B alone, and alternating between A and B, give every run once in
    // the same order.
    EXPECT_EQ(list_all({&on_b}, 2), all);
    EXPECT_EQ(list_all({&on_a, &on_b}, 2), all);
    EXPECT_EQ(list_all({&on_b, &on_a}, 4), all);
    // A cursor of B's with a filter, continued on A.
    const auto page = list_page(on_b, "?limit=4");
    ASSERT_EQ(page.ids.size(), 4u);
    std::vector<std::string> older_live;
    for (std::size_t i = 4; i < all.size(); ++i) {
        if (std::find(live.begin(), live.end(), all[i]) != live.end()) {
            older_live.push_back(all[i]);
        }
    }
    EXPECT_EQ(list_page(on_a, "?workflowId=" + waits + "&cursor=" + page.next).ids, older_live);

    // Another organization sees its own run only, on either member.
    EXPECT_EQ(list_page(on_b, "", kTokenBRw).ids, (std::vector<std::string>{other}));
    EXPECT_EQ(list_page(on_a, "", kTokenBRw).ids, (std::vector<std::string>{other}));
    // Bad input is still a 400 listing every problem.
    auto bad = on_b.get("/v1/runs?limit=0&status=nope");
    EXPECT_EQ(bad.status, 400) << bad.body;
    EXPECT_EQ(data_of(bad).at("errors").as_array().size(), 2u) << bad.body;
}

TEST(PgMemberReads, AListOnAnotherMemberShowsTheOwnersRunsAsTheyFinish) {
    TwoMembers m;
    auto [pg, on_a, on_b] = m.parts();
    const std::string flow = unique_workflow_id("f");
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        ids.push_back(str_at(on_a.create_ok(wait_run(flow, 1)), "id"));
    }
    const std::vector<std::string> newest(ids.rbegin(), ids.rend());
    ASSERT_TRUE(lists(on_b, "?workflowId=" + flow, newest));
    for (const auto& s : list_page(on_b, "?workflowId=" + flow).statuses) {
        EXPECT_TRUE(s == "waiting" || s == "running") << s;
    }
    for (const auto& id : ids) {
        EXPECT_EQ(str_at(on_a.wait_terminal(id), "status"), "success") << id;
    }
    EXPECT_TRUE(lists(on_b, "?status=success&workflowId=" + flow, newest, 5s))
        << "rows: "
        << pg.value("SELECT string_agg(id || ' ' || status || ' ' || owner_epoch, ', ') FROM runs")
        << "\nmembers: "
        << pg.value(
               "SELECT string_agg(id || ' epoch ' || epoch || ' beat ' || heartbeat_at, ', ') "
               "FROM members")
        << "\nA's stderr:\n"
        << m.a->stderr_text() << "\nB's stderr:\n"
        << m.b->stderr_text();
    EXPECT_EQ(list_page(on_b, "?status=waiting,running&workflowId=" + flow).ids.size(), 0u);
}

json::object pool_wait(std::uint64_t chain, double seconds) {
    return sim_request("pool", json::array{chain},
                       json::object{{"root", root({"w"})}, {"w", wait_node(seconds)}});
}

std::string last_event_header(std::uint64_t id) {
    return std::to_string(id);
}

TEST(PgMemberReads, ASimulationOnOneMemberIsFollowedOverSseOnAnother) {
    PgServer pg;
    TempDir dir;
    auto a = member(pg, dir, "a", {31337});
    auto b = member(pg, dir, "b");
    Api on_a(a->base_url());
    const std::string sim = str_at(on_a.create_ok(pool_wait(31337, 1)), "id");
    const std::string target = "/v1/runs/" + sim + "/events";

    // From the start to the end on B, while the run goes on A.
    SseClient whole(b->port(), target);
    ASSERT_EQ(whole.read_head(), 200) << whole.head();
    EXPECT_EQ(whole.header("Content-Type"), "text/event-stream");
    // A consumer on B that leaves after two events and comes back with Last-Event-ID.
    std::vector<SseEvent> resumed;
    {
        SseClient first(b->port(), target);
        ASSERT_EQ(first.read_head(), 200);
        resumed = first.read([](const auto& e) { return e.size() >= 2; });
        ASSERT_GE(resumed.size(), 2u) << describe(resumed);
        resumed.resize(2);
    }
    SseClient again(b->port(), target, kTokenARw,
                    {{"Last-Event-ID", last_event_header(resumed.back().id)}});
    ASSERT_EQ(again.read_head(), 200);
    const auto rest = again.read_to_close(30s);
    resumed.insert(resumed.end(), rest.begin(), rest.end());

    const auto on_b = whole.read_to_close(30s);
    EXPECT_TRUE(whole.closed()) << "B closes the stream after the end";
    ASSERT_TRUE(has_end(on_b)) << describe(on_b);
    expect_consecutive_ids(on_b, 1);
    EXPECT_EQ(data_str(on_b.back(), "status"), "success");
    std::set<std::string> types;
    for (const auto& e : on_b) {
        types.insert(e.type);
    }
    EXPECT_TRUE(types.contains("fork") && types.contains("node") && types.contains("run"))
        << describe(on_b);

    // The owner's stream of the same run: the same events, ids and data.
    SseClient owner(a->port(), target);
    ASSERT_EQ(owner.read_head(), 200);
    const auto on_a_events = owner.read_to_close(30s);
    EXPECT_EQ(describe(on_b), describe(on_a_events));
    EXPECT_EQ(describe(resumed), describe(on_a_events)) << "resumed without a gap or a repeat";

    // A resume on B after the end: what follows id 3 (?lastEventId), then the close.
    SseClient tail(b->port(), target + "?lastEventId=3");
    ASSERT_EQ(tail.read_head(), 200);
    const auto after3 = tail.read_to_close();
    ASSERT_EQ(after3.size() + 3, on_a_events.size()) << describe(after3);
    expect_consecutive_ids(after3, 4);

    // 404 exactly as GET: no such run, another organization's run.
    Api api_b(b->base_url());
    EXPECT_EQ(api_b.get("/v1/runs/run_0000000000000000000000/events").status, 404);
    EXPECT_EQ(api_b.get(target, kTokenBRw).status, 404);
}

}  // namespace
}  // namespace forkrun::http::test
