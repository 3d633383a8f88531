// Retention on the PostgreSQL store (decision 85): a member with --store-retention-ms deletes the
// finished runs created longer ago, with their events, whichever member owned them; live runs
// stay; idempotency keys stay their 24 h, so a repeat of a deleted run's key is a 409, not a
// second run.
#include "http/pg_members.hpp"

namespace forkrun::http::test {
namespace {

// A member that deletes finished runs `retention` after they were created.
std::unique_ptr<ServerProcess> member_keeping(const PgServer& pg,
                                              TempDir& dir,
                                              const std::string& id,
                                              std::chrono::milliseconds retention) {
    return member(pg, dir, id, {}, {{"storeRetentionMs", retention.count()}});
}

TEST(PgRetention, FinishedRunsPastTheRetentionAreDeletedWithTheirEvents) {
    PgServer pg;
    TempDir dir;
    auto a = member_keeping(pg, dir, "a", 2000ms);
    auto b = member(pg, dir, "b");  // the default retention: 30 days
    Api on_a(a->base_url());
    Api on_b(b->base_url());

    const auto keyed_body = quick_run(unique_workflow_id("keyed"));
    auto keyed = create_with_key(on_a, keyed_body, "kept-key");
    ASSERT_EQ(keyed.status, 201) << keyed.body;
    std::vector<std::string> finished{str_at(data_of(keyed), "id")};
    for (int i = 0; i < 3; ++i) {
        finished.push_back(str_at(on_a.create_ok(quick_run(unique_workflow_id("a"))), "id"));
        finished.push_back(str_at(on_b.create_ok(quick_run(unique_workflow_id("b"))), "id"));
    }
    const std::string live =
        str_at(on_b.create_ok(wait_run(unique_workflow_id("live"), 600)), "id");
    // Older than the retention by far, but live: it stays.
    ASSERT_TRUE(becomes(pg, "SELECT count(*) FROM runs WHERE id = '" + live + "'", "1", 10s));
    pg.query("UPDATE runs SET created_at = now() - interval '1 day' WHERE id = '" + live + "'");
    std::string in_list;
    for (const auto& id : finished) {
        EXPECT_EQ(str_at(on_a.wait_terminal(id), "status"), "success") << id;
        in_list += (in_list.empty() ? "'" : ",'") + id + "'";
    }
    ASSERT_TRUE(
        becomes(pg, "SELECT count(*) FROM run_events WHERE run_id IN (" + in_list + ")", "0", 20s))
        << "events left: "
        << pg.value("SELECT count(*) FROM run_events WHERE run_id IN (" + in_list + ")");
    EXPECT_EQ(pg.value("SELECT count(*) FROM runs WHERE id IN (" + in_list + ")"), "0");
    // The live run stays however old, with its events.
    EXPECT_EQ(
        pg.value("SELECT status IN ('waiting', 'running') FROM runs WHERE id = '" + live + "'"),
        "t");
    EXPECT_NE(pg.value("SELECT count(*) FROM run_events WHERE run_id = '" + live + "'"), "0");
    EXPECT_EQ(on_a.run(live).status, 200);
    // A deleted run is gone on the member that did not own it (nor hold it).
    EXPECT_EQ(on_a.run(finished[2]).status, 404) << "B's run, deleted";
    // Its key stays its 24 h: a repeat is refused rather than making a second run.
    EXPECT_EQ(pg.value("SELECT count(*) FROM idempotency_keys WHERE key = 'kept-key'"), "1");
    auto repeat = create_with_key(on_b, keyed_body, "kept-key");
    EXPECT_EQ(repeat.status, 409) << repeat.body;
    EXPECT_EQ(pg.value("SELECT count(*) FROM runs"), "1") << "only the live run";
}

TEST(PgRetention, ARunWithAForkKeptForDebuggingStaysUntilTheForkIsReleased) {
    PgServer pg;
    TempDir dir;
    auto a = member_keeping(pg, dir, "a", 2000ms);
    // Two failed runs finished a day ago, as their owner (gone) wrote them: one still keeps its
    // fork for debugging (its fork events and `end` come when the fork is released).
    auto stored = [&](const std::string& id, const std::string& fork_state) {
        pg.query(
            "INSERT INTO runs (id, organization_id, org_seq, status, created_at, "
            "finished_at, is_simulation, is_dust_test, workflow_id, owner_id, run_json) "
            "VALUES ('" +
            id + "', 'org_a', " + std::to_string(1000 + id.size()) +
            ", 'failure', now() - interval '1 day', now() - interval '1 day', true, false, "
            "'w', 'gone', '{\"executionState\": {\"forks\": {\"f1\": {\"state\": \"" +
            fork_state + "\"}}}}')");
    };
    stored("run_old_released", "released");
    stored("run_old_kept_fork", "kept");
    EXPECT_TRUE(becomes(pg, "SELECT string_agg(id, ',') FROM runs WHERE id LIKE 'run_old%'",
                        "run_old_kept_fork", 20s))
        << pg.value("SELECT string_agg(id, ',') FROM runs");
}

TEST(PgRetention, IdempotencyKeysPastTheirDayAreDeleted) {
    PgServer pg;
    TempDir dir;
    auto a = member_keeping(pg, dir, "a", 2000ms);
    Api on_a(a->base_url());
    auto keyed = create_with_key(on_a, quick_run(unique_workflow_id("k")), "old-key");
    ASSERT_EQ(keyed.status, 201) << keyed.body;
    auto recent = create_with_key(on_a, quick_run(unique_workflow_id("k")), "new-key");
    ASSERT_EQ(recent.status, 201) << recent.body;
    // A day passes for one of them; the other stays, though its run is deleted meanwhile.
    pg.query(
        "UPDATE idempotency_keys SET claimed_at = now() - interval '25 hours' WHERE key = "
        "'old-key'");
    EXPECT_TRUE(becomes(pg, "SELECT string_agg(key, ',') FROM idempotency_keys", "new-key", 20s))
        << pg.value("SELECT string_agg(key, ',') FROM idempotency_keys");
}

}  // namespace
}  // namespace forkrun::http::test
