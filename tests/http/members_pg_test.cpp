// Several controllers on one real PostgreSQL 15 (decision 67): a SIGKILLed controller's live runs
// are finished as controllerLost by the others within its lease, each once, and its anvils die
// with it; a run owned by one controller is read, long-polled and cancelled on another.
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "http/pg_members.hpp"
#include "http/pg_server.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

// Counts every transition of a run to a terminal status, to prove each happens once.
void count_finishes(const PgServer& pg) {
    pg.query(
        "CREATE TABLE finishes (run_id text, status text); "
        "CREATE FUNCTION count_finish() RETURNS trigger AS $$ BEGIN INSERT INTO finishes VALUES "
        "(NEW.id, NEW.status); RETURN NEW; END $$ LANGUAGE plpgsql; "
        "CREATE TRIGGER finishes AFTER UPDATE ON runs FOR EACH ROW WHEN (OLD.status IN "
        "('waiting', 'running') AND NEW.status NOT IN ('waiting', 'running')) EXECUTE FUNCTION "
        "count_finish()");
}

json::object pool_sim(std::vector<std::uint64_t> chains) {
    json::array list;
    for (auto c : chains) {
        list.emplace_back(c);
    }
    return sim_request("pool", list, json::object{{"root", root({"w"})}, {"w", wait_node(600)}});
}

TEST(PgMembers, ALostControllersRunsAreFinishedOnceWithinItsLease) {
    PgServer pg;
    TempDir dir;
    auto a = member(pg, dir, "a", {31337});
    auto b = member(pg, dir, "b");
    auto c = member(pg, dir, "c");
    count_finishes(pg);
    Api on_a(a->base_url());
    Api on_b(b->base_url());

    // 20 live runs on A: 19 long waits and a pool simulation holding its fork.
    std::vector<std::string> live;
    for (int i = 0; i < 19; ++i) {
        live.push_back(str_at(on_a.create_ok(wait_run(unique_workflow_id("w"), 600)), "id"));
    }
    const std::string sim = str_at(on_a.create_ok(pool_sim({31337})), "id");
    live.push_back(sim);
    wait_forks_ready(on_a, sim, 1);
    // B reads A's live runs through the database.
    auto seen = on_b.run(sim);
    ASSERT_EQ(seen.status, 200) << seen.body;
    EXPECT_EQ(str_at(data_of(seen), "id"), sim);
    EXPECT_EQ(on_b.run("run_0000000000000000000000").status, 404);
    EXPECT_EQ(on_b.run(sim, kTokenBRw).status, 404) << "another organization's run";

    const auto anvils = anvil_children(a->pid());
    ASSERT_FALSE(anvils.empty());
    a->stop(SIGKILL);
    const auto killed = std::chrono::steady_clock::now();
    const std::string lost =
        "SELECT count(*) FROM runs WHERE owner_id = 'a' AND status = 'failure' AND "
        "run_json->'executionState'->'error'->>'code' = 'controllerLost'";
    ASSERT_TRUE(becomes(pg, lost, "20", kLease + 5s)) << pg.value(lost) << " of 20 resolved";
    const auto took = std::chrono::steady_clock::now() - killed;
    EXPECT_LT(took, kLease + 2s)
        << "resolved after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
        << " ms";
    const auto by = std::chrono::steady_clock::now() + 10s;
    for (auto pid : anvils) {
        EXPECT_TRUE(gone_by(pid, by)) << "anvil " << pid << " survived its SIGKILLed controller";
    }
    // B and C both keep looking after it: each run still ended once.
    ASSERT_TRUE(becomes(pg,
                        "SELECT count(*) FROM members WHERE id IN ('b', 'c') AND heartbeat_at > "
                        "(SELECT max(finished_at) FROM runs) + interval '1 second'",
                        "2", 10s));
    EXPECT_EQ(pg.value("SELECT count(*) FROM finishes"), "20");
    EXPECT_EQ(pg.value("SELECT count(DISTINCT run_id) FROM finishes"), "20");
    EXPECT_EQ(pg.value("SELECT epoch FROM members WHERE id = 'a'"), "2") << "A is fenced";
    for (const auto& id : live) {
        auto r = on_b.run(id);
        ASSERT_EQ(r.status, 200) << r.body;
        const auto run = data_of(r);
        EXPECT_EQ(str_at(run, "status"), "failure") << id;
        EXPECT_EQ(value_at(run, "/executionState/error/code"), json::value("controllerLost"));
        EXPECT_TRUE(is_timestamp(run.at("finishedAt"))) << id;
    }
}

TEST(PgMembers, ARunOwnedByOneControllerIsReadAndCancelledOnAnother) {
    PgServer pg;
    TempDir dir;
    auto a = member(pg, dir, "a", {31337, 31338, 31339, 31340});
    auto b = member(pg, dir, "b");
    Api on_a(a->base_url());
    Api on_b(b->base_url());

    const std::string sim = str_at(on_a.create_ok(pool_sim({31337, 31338, 31339, 31340})), "id");
    wait_forks_ready(on_a, sim, 4);
    // A long-poll on B, answered when the cancel ends the run.
    HttpResponse polled;
    std::thread poll([&] {
        Api api(b->base_url());
        polled = api.get("/v1/runs/" + sim + "?waitUntil=terminal&timeoutMs=30000");
    });
    struct Join {
        std::thread& t;
        ~Join() {
            if (t.joinable()) {
                t.join();  // an assertion returned early
            }
        }
    } join{poll};
    // Running means it has run: its forks are up, and it waits at its wait node (or is about
    // to, as the owner last wrote it).
    auto running = on_b.get("/v1/runs/" + sim + "?waitUntil=running&timeoutMs=10000");
    ASSERT_EQ(running.status, 200) << running.body;
    const std::string now = str_at(data_of(running), "status");
    EXPECT_TRUE(now == "running" || now == "waiting") << now;
    EXPECT_EQ(data_of(running).at("simulationForks").as_array().size(), 4u);

    auto cancelled = on_b.cancel(sim, kTokenARw, "from b");
    ASSERT_EQ(cancelled.status, 200) << cancelled.body;
    const auto run = data_of(cancelled);
    EXPECT_EQ(str_at(run, "status"), "cancelled");
    EXPECT_EQ(value_at(run, "/executionState/cancellation/reason"), json::value("from b"));
    const auto record = value_at(run, "/executionState/cancellation/forks");
    const auto& forks = record.as_array();
    EXPECT_EQ(forks.size(), 4u);
    for (const auto& f : forks) {
        EXPECT_EQ(f.at("ok"), json::value(true)) << json::serialize(f);
    }
    const auto states = value_at(run, "/executionState/forks");
    EXPECT_EQ(states.as_object().size(), 4u);
    for (const auto& [id, f] : states.as_object()) {
        EXPECT_EQ(f.at("state"), json::value("released")) << id << ": " << json::serialize(f);
    }
    // The owner holds the same final run; a second cancel, on either, is a 409.
    EXPECT_EQ(str_at(data_of(on_a.run(sim)), "status"), "cancelled");
    EXPECT_EQ(on_b.cancel(sim).status, 409);
    EXPECT_EQ(on_a.cancel(sim).status, 409);
    poll.join();
    ASSERT_EQ(polled.status, 200) << polled.body;
    EXPECT_EQ(str_at(data_of(polled), "status"), "cancelled");
}

TEST(PgMembers, ConcurrentCancelsOnTwoControllersGiveOne200AndOne409) {
    PgServer pg;
    TempDir dir;
    auto a = member(pg, dir, "a", {31337, 31338, 31339, 31340});
    auto b = member(pg, dir, "b");
    Api on_a(a->base_url());
    for (int round = 0; round < 5; ++round) {
        const std::string id = str_at(on_a.create_ok(pool_sim({31337, 31338, 31339, 31340})), "id");
        wait_forks_ready(on_a, id, 4);
        std::atomic<int> ready{0};
        std::map<std::string, int> status;
        std::mutex mu;
        auto cancel_on = [&](const ServerProcess& s, const std::string& name) {
            Api api(s.base_url());
            ++ready;
            while (ready < 2) {
                // Both threads start their cancel together.
                std::this_thread::yield();
            }
            const int st = api.cancel(id).status;
            std::lock_guard lock(mu);
            status[name] = st;
        };
        std::thread on_owner([&] { cancel_on(*a, "a"); });
        std::thread on_other([&] { cancel_on(*b, "b"); });
        on_owner.join();
        on_other.join();
        std::multiset<int> got{status["a"], status["b"]};
        EXPECT_EQ(got, (std::multiset<int>{200, 409}))
            << "round " << round << ": a " << status["a"] << ", b " << status["b"];
        EXPECT_EQ(str_at(data_of(Api(b->base_url()).run(id)), "status"), "cancelled");
    }
}

TEST(PgMembers, AnIdempotentCreateRepeatedOnAnotherControllerIsTheFirstRun) {
    TwoMembers m;
    auto [pg, on_a, on_b] = m.parts();
    const auto body = wait_run(unique_workflow_id("k"), 600);

    auto first = create_with_key(on_a, body, "key-1");
    ASSERT_EQ(first.status, 201) << first.body;
    const std::string id = str_at(data_of(first), "id");
    auto again = create_with_key(on_b, body, "key-1");
    ASSERT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(str_at(data_of(again), "id"), id);
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(again.header("Location"), "/v1/runs/" + id);
    // Another body under the same key, on either controller, is refused.
    auto other = create_with_key(on_b, wait_run(unique_workflow_id("k"), 5), "key-1");
    EXPECT_EQ(other.status, 422) << other.body;
    EXPECT_EQ(pg.value("SELECT count(*) FROM runs"), "1");
    // A new key on B makes a run of B's.
    auto fresh = create_with_key(on_b, body, "key-2");
    ASSERT_EQ(fresh.status, 201) << fresh.body;
    EXPECT_FALSE(fresh.has_header("Idempotent-Replayed"));
    EXPECT_EQ(
        pg.value("SELECT owner_id FROM runs WHERE id = '" + str_at(data_of(fresh), "id") + "'"),
        "b");
}

// Another member takes A over (it bumps A's epoch, as PgMembers::take_over does) while A runs
// on: the creates A acknowledges before its next heartbeat are stored under the epoch it then
// registers with, and stay A's live runs. Before, they were stored under the fenced epoch and
// the next scan finished them as controllerLost although their controller was alive.
TEST(PgMembers, RunsCreatedOnAControllerJustTakenOverAreStoredUnderItsNextEpoch) {
    PgServer pg;
    TempDir dir;
    auto a = member(pg, dir, "a");
    Api on_a(a->base_url());
    const std::string before = str_at(on_a.create_ok(wait_run(unique_workflow_id("w"), 600)), "id");
    ASSERT_EQ(pg.value("SELECT owner_epoch FROM runs WHERE id = '" + before + "'"), "1");

    pg.query("UPDATE members SET epoch = epoch + 1 WHERE id = 'a'");
    std::vector<std::string> after;
    for (int i = 0; i < 5; ++i) {
        after.push_back(str_at(on_a.create_ok(wait_run(unique_workflow_id("w"), 600)), "id"));
    }
    // The run of the fenced epoch is finished by the next scan (A's own): it has run.
    const std::string lost = "SELECT status FROM runs WHERE id = '" + before + "'";
    ASSERT_TRUE(becomes(pg, lost, "failure", kLease + 5s)) << pg.value(lost);
    const std::string epoch = pg.value("SELECT epoch FROM members WHERE id = 'a'");
    EXPECT_EQ(epoch, "3") << "A registered again after the bump";
    for (const auto& id : after) {
        const std::string row =
            "SELECT status IN ('waiting', 'running') AND owner_epoch = " + epoch +
            " FROM runs WHERE id = '" + id + "'";
        EXPECT_EQ(pg.value(row), "t") << id << " is live, A's at its epoch";
        auto cancelled = on_a.cancel(id);
        ASSERT_EQ(cancelled.status, 200) << cancelled.body;
        EXPECT_EQ(str_at(data_of(cancelled), "status"), "cancelled");
        EXPECT_EQ(pg.value("SELECT status FROM runs WHERE id = '" + id + "'"), "cancelled") << id;
    }
}

}  // namespace
}  // namespace forkrun::http::test
