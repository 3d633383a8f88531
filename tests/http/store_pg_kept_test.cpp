// A run's changes after it ended, on a real PostgreSQL 15 and real anvil (decision 89): a failed
// run's forks kept for inspection are released later, and the release is stored, so another
// member, a restart and the retention sweep see the forks released rather than kept for good.
// Before, the row's write of `failure` was taken as the run's last: the release was never written
// (and the update skipped terminal rows), so every other member showed a dead fork as `kept`.
#include "http/pg_members.hpp"
#include "http/pg_server.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

// The states of the run's forks as its row holds them, comma-separated.
std::string fork_states_sql(const std::string& id) {
    return "SELECT (SELECT string_agg(f.value->>'state', ',') FROM "
           "json_each(run_json->'executionState'->'forks') f) FROM runs WHERE id = '" +
           id + "'";
}

TEST(PgKeptForks, AKeptForksReleaseAfterItsRunEndedIsStoredAndSeenOnAnotherMember) {
    PgServer pg;
    TempDir dir;
    auto a = member(pg, dir, "a", {31337});
    auto b = member(pg, dir, "b");
    Api on_a(a->base_url());
    Api on_b(b->base_url());

    const auto id = str_at(on_a.create_ok(failing_run("pool", 31337, 60)), "id");
    const auto ended = on_a.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(ended, "status"), "failure") << json::serialize(ended);
    ASSERT_EQ(str(only_fork(ended).at("state")), "kept") << json::serialize(ended);
    const auto status_sql = "SELECT status FROM runs WHERE id = '" + id + "'";
    ASSERT_TRUE(becomes(pg, status_sql, "failure", 10s)) << pg.value(status_sql);
    ASSERT_TRUE(becomes(pg, fork_states_sql(id), "kept", 10s)) << pg.value(fork_states_sql(id));

    const auto released = release(on_a, id);
    ASSERT_EQ(released.status, 200) << released.body;
    EXPECT_EQ(str(only_fork(data_of(released)).at("state")), "released") << released.body;

    // The row follows, still `failure`, and the other member reads it so.
    EXPECT_TRUE(becomes(pg, fork_states_sql(id), "released", 10s))
        << "stored forks: " << pg.value(fork_states_sql(id));
    EXPECT_EQ(pg.value(status_sql), "failure");
    const auto on_other = on_b.run(id);
    ASSERT_EQ(on_other.status, 200) << on_other.body;
    EXPECT_EQ(str_at(data_of(on_other), "status"), "failure") << on_other.body;
    EXPECT_EQ(str(only_fork(data_of(on_other)).at("state")), "released") << on_other.body;
}

}  // namespace
}  // namespace forkrun::http::test
