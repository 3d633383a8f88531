// The durable store on a real PostgreSQL 15 (started by the test): acknowledged runs survive a
// SIGKILL, leftovers end as controllerLost, the database going away answers 503, migrations.
#include <map>

#include "http/pg_server.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

// `forkrun serve` on `pg`, with a pool of one fork on chain 31337 (a fresh local chain).
std::unique_ptr<ServerProcess> start_on(const PgServer& pg,
                                        TempDir& dir,
                                        std::vector<std::string> extra = {}) {
    const auto path = dir.path() / "config.json";
    std::ofstream(path) << json::serialize(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}});
    ServerOptions opts;
    opts.extra_args = {"--config", path.string(), "--store", pg.url(), "--controller-id", "c1"};
    opts.extra_args.insert(opts.extra_args.end(), extra.begin(), extra.end());
    return std::make_unique<ServerProcess>(opts);
}

// Waits until `sql` answers `want` (the store writes finished runs behind their answer).
void wait_for_value(const PgServer& pg,
                    const std::string& sql,
                    const std::string& want,
                    std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string got;
    while (std::chrono::steady_clock::now() < deadline) {
        got = pg.value(sql);
        if (got == want) {
            return;
        }
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << sql << " answered " << got << ", want " << want;
}

// Every run of org_a through the list and its cursors, newest first.
std::vector<json::object> list_all(const Api& api, std::size_t page) {
    std::vector<json::object> out;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
        auto r = api.get("/v1/runs?limit=" + std::to_string(page) +
                         (cursor.empty() ? "" : "&cursor=" + cursor));
        EXPECT_EQ(r.status, 200) << r.body;
        for (const auto& run : data_of(r).at("runs").as_array()) {
            out.push_back(run.as_object());
        }
        const auto& next = data_of(r).at("nextCursor");
        if (!next.is_string()) {
            break;
        }
        cursor = std::string(next.get_string());
    }
    return out;
}

TEST(PgStore, AcknowledgedRunsSurviveSigkillAndLeftoversEndAsControllerLost) {
    PgServer pg;
    TempDir dir;
    auto server = start_on(pg, dir);
    Api api(server->base_url());

    // 50 runs: 25 finish at once, 4 are cancelled, 20 wait, one pool simulation holds its fork.
    std::vector<std::string> finished, cancelled, waiting;
    for (int i = 0; i < 25; ++i) {
        finished.push_back(str_at(api.create_ok(quick_run(unique_workflow_id("q"))), "id"));
    }
    for (int i = 0; i < 4; ++i) {
        cancelled.push_back(str_at(api.create_ok(wait_run(unique_workflow_id("c"), 600)), "id"));
    }
    for (int i = 0; i < 20; ++i) {
        waiting.push_back(str_at(api.create_ok(wait_run(unique_workflow_id("w"), 600)), "id"));
    }
    const std::string pool =
        str_at(api.create_ok(sim_request(
                   "pool", {31337}, json::object{{"root", root({"w"})}, {"w", wait_node(600)}})),
               "id");
    ASSERT_FALSE(pool.empty());
    const auto ready = wait_forks_ready(api, pool, 1);
    // CU the pool run spends before the crash, written behind.
    rpc_result(rpc_url_of(ready, 31337), "eth_blockNumber");
    for (const auto& id : cancelled) {
        ASSERT_EQ(api.cancel(id).status, 200);
    }
    std::map<std::string, json::object> before;
    for (const auto& id : finished) {
        before[id] = api.wait_terminal(id);
    }
    for (const auto& ids : std::vector<std::vector<std::string>>{cancelled, waiting, {pool}}) {
        for (const auto& id : ids) {
            before[id] = data_of(api.run(id));
        }
    }
    ASSERT_EQ(before.size(), 50u);
    // Finished runs are written as they finish, not when answered: wait for the rows. The
    // pool run's CU is written behind its change.
    wait_for_value(pg, "SELECT count(*) FROM runs WHERE status = 'success'", "25");
    wait_for_value(pg, "SELECT (run_json->>'totalCu') FROM runs WHERE id = '" + pool + "'",
                   std::to_string(total_cu(data_of(api.run(pool)))));
    ASSERT_EQ(pg.value("SELECT count(*) FROM runs"), "50");
    // So is a live run's progress: a node still pending in its row when the controller dies
    // ends skipped, one that started (a wait node is `waiting`) failed. Wait until every live
    // run's `w` has started there.
    wait_for_value(pg,
                   "SELECT count(*) FROM runs WHERE "
                   "run_json->'executionState'->'nodes'->'w'->>'status' = 'waiting'",
                   std::to_string(waiting.size() + 1));
    const std::string pool_cu = std::to_string(total_cu(data_of(api.run(pool))));
    EXPECT_NE(pool_cu, "0");

    const auto anvils = anvil_children(server->pid());
    ASSERT_FALSE(anvils.empty());
    server->stop(SIGKILL);
    const auto by = std::chrono::steady_clock::now() + 10s;
    for (auto pid : anvils) {
        EXPECT_TRUE(gone_by(pid, by)) << "anvil " << pid << " survived its SIGKILLed server";
    }

    auto again = start_on(pg, dir);
    Api api2(again->base_url());
    for (const auto& [id, was] : before) {
        auto r = api2.run(id);
        ASSERT_EQ(r.status, 200) << id << " lost: " << r.body;
        const auto& now = data_of(r);
        EXPECT_EQ(total_cu(now), total_cu(was)) << id;
        const std::string st = str_at(was, "status");
        if (is_terminal(st)) {
            EXPECT_EQ(str_at(now, "status"), st) << id;
            EXPECT_EQ(now.at("finishedAt"), was.at("finishedAt")) << id;
            EXPECT_EQ(value_at(now, "/executionState/cancellation").is_null(),
                      value_at(was, "/executionState/cancellation").is_null())
                << id;
        } else {
            EXPECT_EQ(str_at(now, "status"), "failure") << id;
            EXPECT_EQ(value_at(now, "/executionState/error/code"), json::value("controllerLost"))
                << id;
            EXPECT_TRUE(is_timestamp(now.at("finishedAt"))) << id;
            EXPECT_EQ(node_status(now, "w"), "failure") << id;
        }
    }
    EXPECT_EQ(std::to_string(total_cu(data_of(api2.run(pool)))), pool_cu);
    // Its event stream: every event its first life stored from id 1, then its `run` (failure)
    // and `end` stored when it was found a leftover (decision 84).
    HttpRequest events = make_request("GET", "/v1/runs/" + pool + "/events");
    events.headers.emplace_back("Authorization", std::string("Bearer ") + kTokenARw);
    const auto stream = api2.client().send(events);
    EXPECT_EQ(stream.status, 200) << stream.body;
    EXPECT_EQ(stream.body.rfind("id: 1\nevent: run\n", 0), 0u) << stream.body;
    EXPECT_EQ(stream.body.find("event: snapshot"), std::string::npos) << stream.body;
    const auto end_at = stream.body.find("event: end\n");
    ASSERT_NE(end_at, std::string::npos) << stream.body;
    EXPECT_NE(stream.body.find(R"("status":"failure","totalCu":)" + pool_cu, end_at),
              std::string::npos)
        << stream.body;
    EXPECT_EQ(pg.value("SELECT count(*) FROM runs WHERE status IN ('waiting', 'running')"), "0");

    // Lists and cursors continue: every run once, newest first; a new run comes before them.
    const auto listed = list_all(api2, 7);
    ASSERT_EQ(listed.size(), 50u);
    std::set<std::string> ids;
    for (const auto& r : listed) {
        ids.insert(str_at(r, "id"));
    }
    EXPECT_EQ(ids.size(), 50u);
    EXPECT_EQ(str_at(listed.front(), "id"), pool);
    auto page = api2.get("/v1/runs?limit=10");
    const std::string cursor = str(data_of(page).at("nextCursor"));
    const std::string fresh = str_at(api2.create_ok(quick_run(unique_workflow_id("n"))), "id");
    const auto after = list_all(api2, 100);
    ASSERT_EQ(after.size(), 51u);
    EXPECT_EQ(str_at(after.front(), "id"), fresh);
    EXPECT_EQ(pg.value("SELECT count(DISTINCT org_seq) FROM runs WHERE organization_id = 'org_a'"),
              "51");
    // A cursor made before the new run still continues where it was.
    auto next = api2.get("/v1/runs?limit=10&cursor=" + cursor);
    ASSERT_EQ(next.status, 200) << next.body;
    EXPECT_EQ(str_at(data_of(next).at("runs").as_array()[0].as_object(), "id"),
              str_at(listed[10], "id"));

    // And a cursor survives the next restart.
    again->stop(SIGKILL);
    auto third = start_on(pg, dir);
    Api api3(third->base_url());
    auto kept = api3.get("/v1/runs?limit=10&cursor=" + cursor);
    ASSERT_EQ(kept.status, 200) << kept.body;
    EXPECT_EQ(str_at(data_of(kept).at("runs").as_array()[0].as_object(), "id"),
              str_at(listed[10], "id"));
}

TEST(PgStore, CreateWhileTheDatabaseIsDownAnswers503AndSucceedsOnceItIsBack) {
    PgServer pg;
    TempDir dir;
    auto server = start_on(pg, dir);
    Api api(server->base_url());
    const std::string first = str_at(api.create_ok(quick_run(unique_workflow_id("a"))), "id");
    api.wait_terminal(first);

    pg.stop();
    const auto asked = std::chrono::steady_clock::now();
    auto refused = api.create(quick_run(unique_workflow_id("b")));
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_TRUE(contains_ci(str_at(refused.json->as_object(), "message"), "could not be stored"))
        << refused.body;
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 30s);
    // Reads are served from memory meanwhile.
    EXPECT_EQ(api.run(first).status, 200);

    pg.start();
    const std::string later = str_at(api.create_ok(quick_run(unique_workflow_id("c"))), "id");
    ASSERT_FALSE(later.empty());
    EXPECT_EQ(str_at(api.wait_terminal(later), "status"), "success");
    EXPECT_EQ(pg.value("SELECT count(*) FROM runs"), "2");
    // The refused run was never stored, nor listed.
    EXPECT_EQ(list_all(api, 50).size(), 2u);
}

TEST(PgStore, MigratesOnceAndRefusesANewerSchema) {
    PgServer pg;
    TempDir dir;
    {
        auto server = start_on(pg, dir);
        EXPECT_EQ(pg.value("SELECT string_agg(version::text, ',') FROM schema_migrations"),
                  "1,2,3,4,5,6,7,8,9,10,11,12");
        EXPECT_TRUE(server->stop(SIGTERM).clean());
    }
    {
        // The second start finds the schema current and changes nothing.
        auto server = start_on(pg, dir);
        EXPECT_EQ(pg.value("SELECT count(*) FROM schema_migrations"), "12");
        Api api(server->base_url());
        api.create_ok(quick_run(unique_workflow_id("m")));
        EXPECT_TRUE(server->stop(SIGTERM).clean());
    }
    pg.query("INSERT INTO schema_migrations (version) VALUES (999)");
    auto r = run_forkrun({"serve", "--listen", "127.0.0.1:0", "--store", pg.url()}, 30s);
    EXPECT_EQ(r.status.code, 2) << r.status.describe() << "\n" << r.err;
    EXPECT_TRUE(contains_ci(r.err, "schema is version 999, newer than this forkrun knows"))
        << r.err;
    EXPECT_EQ(pg.value("SELECT count(*) FROM runs"), "1");
}

TEST(PgStore, UnreachableDatabaseAtStartIsAClearError) {
    PgServer pg;
    const std::string url = pg.url();
    pg.stop();
    auto r = run_forkrun({"serve", "--listen", "127.0.0.1:0", "--store", url}, 30s);
    EXPECT_EQ(r.status.code, 2) << r.status.describe() << "\n" << r.err;
    EXPECT_TRUE(contains_ci(r.err, "cannot connect to PostgreSQL")) << r.err;
}

}  // namespace
}  // namespace forkrun::http::test
