// The write-behind of the PostgreSQL store, on a real PostgreSQL 15: a run that ends while the
// write of its previous change waits in the database is stored ended (decision 87), a final
// write finding its row already ended is stored, not refused (decision 89), and a change the
// database refuses as the store stops is tried again until the stop's deadline (decision 92).
// Before, the writer looked at the run's status when the commit came back, saw it terminal, and
// dropped the run's last change: its row stayed `running` for every other member's list and GET.
#include <libpq-fe.h>

#include <boost/asio/use_future.hpp>

#include "controller/pg_store.hpp"
#include "controller/run_record.hpp"
#include "http/pg_members.hpp"

namespace forkrun::http::test {
namespace {

namespace asio = boost::asio;
using controller::RunRecord;
using controller::RunStatus;
using RunState = ::forkrun::controller::Run;

// The row's JSON as the test reads it back: the run's id and status.
std::shared_ptr<const std::string> small_json(const RunRecord& rec) {
    return rec.read([](const RunState& r) {
        return std::make_shared<const std::string>("{\"id\":\"" + r.id + "\",\"status\":\"" +
                                                   std::string(to_string(r.status)) + "\"}");
    });
}

// A transaction of the test's own, holding `sql`'s row locks until commit().
class HeldLock {
  public:
    HeldLock(const PgServer& pg, const std::string& sql)
        : conn_(PQconnectdb(pg.url().c_str()), PQfinish) {
        if (PQstatus(conn_.get()) != CONNECTION_OK) {
            throw std::runtime_error(PQerrorMessage(conn_.get()));
        }
        exec("BEGIN");
        exec(sql);
    }
    void commit() { exec("COMMIT"); }

  private:
    void exec(const std::string& sql) {
        std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn_.get(), sql.c_str()),
                                                          PQclear);
        const auto st = PQresultStatus(res.get());
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            throw std::runtime_error(sql + ": " + PQresultErrorMessage(res.get()));
        }
    }
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn_;
};

// A store with one writer on `pg`, opened, and runs inserted into it with the store as their
// change sink.
struct OneWriter {
    explicit OneWriter(const PgServer& pg, std::chrono::milliseconds bound = 5s)
        : store(config(pg, bound)), opened(store.open()) {}

    static controller::PgStoreConfig config(const PgServer& pg, std::chrono::milliseconds bound) {
        controller::PgStoreConfig cfg;
        cfg.url = pg.url();
        cfg.bound = bound;
        cfg.controller_id = "a";
        cfg.writers = 1;
        cfg.full_json = small_json;
        return cfg;
    }

    std::shared_ptr<RunRecord> stored_run(const std::string& id, RunStatus status) {
        RunState run;
        run.id = id;
        run.organization_id = "org_a";
        run.workflow_id = "wf";
        run.status = status;
        auto rec = std::make_shared<RunRecord>(std::move(run), 1, 1);
        store.async_insert(rec, asio::use_future).get();
        rec->set_change_sink(&store);
        return rec;
    }

    controller::PgStore store;
    boost::system::result<controller::StoredRuns, std::string> opened;
};

TEST(PgStoreBehind, ARunThatEndsWhileItsLastChangeIsBeingWrittenIsStoredEnded) {
    PgServer pg;
    OneWriter one(pg);
    ASSERT_TRUE(one.opened) << one.opened.error();
    auto rec = one.stored_run("run_behind", RunStatus::kWaiting);
    ASSERT_EQ(pg.value("SELECT status FROM runs WHERE id = 'run_behind'"), "waiting");

    // The run's next change is written while the test holds its row: the write waits.
    HeldLock held(pg, "SELECT 1 FROM runs WHERE id = 'run_behind' FOR UPDATE");
    rec->update([](RunState& r) { r.status = RunStatus::kRunning; });
    ASSERT_TRUE(becomes(pg,
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE '%UPDATE runs%'",
                        "1", 10s));
    // It ends meanwhile (by itself, nobody waiting), then the first write commits.
    rec->finish(RunStatus::kSuccess, [](RunState&) {});
    held.commit();

    EXPECT_TRUE(becomes(pg, "SELECT status FROM runs WHERE id = 'run_behind'", "success", 10s))
        << pg.value("SELECT status || ' ' || run_json::text FROM runs");
    EXPECT_EQ(pg.value("SELECT run_json->>'status' FROM runs WHERE id = 'run_behind'"), "success");
    EXPECT_NE(pg.value("SELECT finished_at FROM runs WHERE id = 'run_behind'"), "");
    rec->set_change_sink(nullptr);
}

// A cancel waits for the run's final write; the change that ended the run was written behind
// first (between the run's end on its strand and the final reaching the store). The final then
// finds the row already `cancelled`: it lands (decision 89), where it used to be skipped as a
// terminal row and answered as refused, so the cancel was a 503 "not stored" of a stored run.
TEST(PgStoreBehind, AFinalForARowAlreadyStoredWithItsEndIsStored) {
    PgServer pg;
    OneWriter one(pg);
    ASSERT_TRUE(one.opened) << one.opened.error();
    auto rec = one.stored_run("run_final", RunStatus::kRunning);
    rec->finish(RunStatus::kCancelled, [](RunState&) {});
    ASSERT_TRUE(becomes(pg, "SELECT status FROM runs WHERE id = 'run_final'", "cancelled", 10s));

    std::string refused;
    try {
        one.store.async_finish(rec, asio::use_future).get();
    } catch (const boost::system::system_error& e) {
        refused = e.what();
    }
    EXPECT_EQ(refused, "") << "the final of a run stored cancelled was refused";
    EXPECT_EQ(pg.value("SELECT status FROM runs WHERE id = 'run_final'"), "cancelled");
    rec->set_change_sink(nullptr);
}

// How many writes the test's trigger has refused (a sequence: not rolled back with them).
long refusals(const PgServer& pg) {
    return std::stol(
        pg.value("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM refused_writes"));
}

bool refusals_reach(const PgServer& pg, long n, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (refusals(pg) < n) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

// A controller stopping while the database refuses a run's change: its writer tries again
// until the stop's deadline, and the change lands once the database takes it (decision 92).
// Before, one failed batch while stopping (or a stop within the 250 ms pause after a failure)
// dropped everything every writer held: the row stayed `waiting` for every other member.
TEST(PgStoreBehind, AChangeRefusedAsTheStoreStopsIsTriedAgainUntilItLands) {
    PgServer pg;
    auto one = std::make_unique<OneWriter>(pg, 20s);  // the stop's deadline: 10 s
    ASSERT_TRUE(one->opened) << one->opened.error();
    auto rec = one->stored_run("run_stopping", RunStatus::kWaiting);
    pg.query(
        "CREATE SEQUENCE refused_writes; "
        "CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM nextval('refused_writes'); RAISE EXCEPTION 'the test refuses this write'; "
        "END $$; "
        "CREATE TRIGGER refuse BEFORE UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION "
        "refuse_writes()");
    rec->update([](RunState& r) { r.status = RunStatus::kRunning; });
    ASSERT_TRUE(refusals_reach(pg, 1, 10s)) << "the change was never written";
    rec->set_change_sink(nullptr);

    // The store stops while the database still refuses: it is tried again meanwhile.
    const long before = refusals(pg);
    std::thread stopping([&] { one.reset(); });
    const bool retried = refusals_reach(pg, before + 2, 5s);
    pg.query("DROP TRIGGER refuse ON runs");
    stopping.join();
    EXPECT_TRUE(retried) << "the refused change was not tried again while the store stopped";
    EXPECT_EQ(pg.value("SELECT status FROM runs WHERE id = 'run_stopping'"), "running")
        << "the change refused while the store stopped was lost";
}

}  // namespace
}  // namespace forkrun::http::test
