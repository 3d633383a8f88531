// The write-behind of the PostgreSQL store, on a real PostgreSQL 15: a run that ends while the
// write of its previous change waits in the database is stored ended (decision 87). Before, the
// writer looked at the run's status when the commit came back, saw it terminal, and dropped the
// run's last change: its row stayed `running` for every other member's list and GET.
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

TEST(PgStoreBehind, ARunThatEndsWhileItsLastChangeIsBeingWrittenIsStoredEnded) {
    PgServer pg;
    controller::PgStoreConfig cfg;
    cfg.url = pg.url();
    cfg.controller_id = "a";
    cfg.writers = 1;
    cfg.full_json = small_json;
    controller::PgStore store(std::move(cfg));
    auto opened = store.open();
    ASSERT_TRUE(opened) << opened.error();

    RunState run;
    run.id = "run_behind";
    run.organization_id = "org_a";
    run.workflow_id = "wf";
    run.status = RunStatus::kWaiting;
    auto rec = std::make_shared<RunRecord>(std::move(run), 1, 1);
    store.async_insert(rec, asio::use_future).get();
    rec->set_change_sink(&store);
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

}  // namespace
}  // namespace forkrun::http::test
