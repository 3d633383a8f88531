// PgStore's batch: one statement for everything a writer took (new runs, changed and final
// rows, the runs' events), so it commits as one; an UPDATE lands only while this controller's
// epoch is the member's (fencing), and what it wrote is signalled while another member listens.
#include <unordered_set>

#include "controller/pg_connection.hpp"
#include "controller/pg_store.hpp"
#include "util/timestamp.hpp"

namespace forkrun::controller {

std::string PgStore::write(const Batch& batch,
                           Connection& conn,
                           std::vector<std::string>& fenced,
                           std::vector<bool>& ended) {
    ended.clear();
    // Parameters are text; each row's values are kept alive in `values` until the statement
    // is sent.
    std::vector<std::string> values;
    std::vector<std::shared_ptr<const std::string>> docs;
    values.reserve(batch.inserts.size() * 10 + (batch.finals.size() + batch.changes.size()) * 3);
    std::string insert_sql;
    std::string update_sql;
    std::vector<int> param_of;  // the index into values, or -(index into docs) - 1
    auto param = [&](std::string v) {
        values.push_back(std::move(v));
        param_of.push_back(static_cast<int>(values.size()) - 1);
        return "$" + std::to_string(param_of.size());
    };
    auto doc = [&](std::shared_ptr<const std::string> d) {
        docs.push_back(std::move(d));
        param_of.push_back(-static_cast<int>(docs.size()));
        return "$" + std::to_string(param_of.size());
    };
    const std::string epoch = std::to_string(epoch_.load());
    // A row's columns are read before its JSON, which is then as new or newer: a run that
    // ends in between is not stored terminal with the JSON of before (no later write could
    // mend it), and its change is written again (run_changed came after the read).
    for (const auto& w : batch.inserts) {
        const auto& rec = *w.record;
        std::string row = rec.read([&](const Run& r) {
            return "(" + param(r.id) + "," + param(r.organization_id) + "," +
                   param(std::to_string(rec.org_seq())) + "::bigint," +
                   param(std::string(to_string(r.status))) + "," +
                   param(util::format_timestamp(r.started_at)) + "::timestamptz," +
                   param(r.is_simulation ? "t" : "f") + "::boolean," +
                   param(r.is_dust_test ? "t" : "f") + "::boolean," + param(r.workflow_id) + "," +
                   param(config_.controller_id) + "," + param(epoch) + "::bigint,";
        });
        row += doc(config_.full_json(rec)) + "::json)";
        insert_sql += (insert_sql.empty() ? "" : ",") + row;
    }
    // Whether the change is the run's last write, as read (not as the run is by the commit):
    // terminal, with no fork kept for inspection, whose release changes the run again.
    auto change = [&](const RunRecord& rec) {
        bool last = false;
        std::string row = rec.read([&](const Run& r) {
            last = is_terminal(r.status) && !r.keeps_forks();  // RunRecord::in_progress's test
            return "(" + param(r.id) + "," + param(std::string(to_string(r.status))) + "," +
                   param(r.finished_at ? util::format_timestamp(*r.finished_at) : "") + ",";
        });
        row += doc(config_.full_json(rec)) + ")";
        update_sql += (update_sql.empty() ? "" : ",") + row;
        return last;
    };
    for (const auto& w : batch.finals) {
        ended.push_back(change(*w.record));
    }
    for (const auto& r : batch.changes) {
        ended.push_back(change(*r));
    }
    std::string me;
    std::string my_epoch;
    if (!update_sql.empty() || !batch.events.empty()) {
        me = param(config_.controller_id);
        my_epoch = param(epoch);
    }
    std::string events_param;
    if (!batch.events.empty()) {
        std::string all = "[";
        for (const auto& [id, e] : batch.events) {
            if (all.size() > 1) {
                all.push_back(',');
            }
            all.append(e.json);
        }
        all.push_back(']');
        events_param = param(std::move(all));
    }
    std::vector<const char*> params;
    params.reserve(param_of.size());
    for (int i : param_of) {
        params.push_back(i >= 0 ? values[static_cast<std::size_t>(i)].c_str()
                                : docs[static_cast<std::size_t>(-i - 1)]->c_str());
    }
    const std::string insert =
        "INSERT INTO runs (id, organization_id, org_seq, status, created_at, is_simulation, "
        "is_dust_test, workflow_id, owner_id, owner_epoch, run_json) VALUES " +
        insert_sql + " ON CONFLICT (id) DO NOTHING";
    // Only this controller's rows, live or ended with the status written (a run's kept forks
    // released after it ended; a final after the change that ended it), and only while its
    // epoch is the member's: a controller taken over (fenced) writes nothing more, and no row
    // goes from one end to another. The ids written are signalled to the members
    // watching them (one NOTIFY a batch; "*" when too many for its payload) while another
    // member is alive.
    const std::string update =
        "UPDATE runs AS r SET status = v.status, finished_at = "
        "nullif(v.finished_at, '')::timestamptz, run_json = v.doc::json, updated_at = now() "
        "FROM (VALUES " +
        update_sql +
        ") AS v(id, status, finished_at, doc) WHERE r.id = v.id AND (r.status NOT IN ('success', "
        "'failure', 'cancelled') OR r.status = v.status) AND r.owner_id = " +
        me + " AND r.owner_epoch = " + my_epoch +
        "::bigint AND EXISTS (SELECT 1 FROM members m WHERE m.id = " + me +
        " AND m.epoch = " + my_epoch + "::bigint) RETURNING r.id";
    std::vector<std::string> ctes;
    if (!insert_sql.empty()) {
        ctes.push_back("i AS (" + insert + ")");
    }
    if (!update_sql.empty()) {
        ctes.push_back("u AS (" + update + ")");
    }
    if (!events_param.empty()) {
        // The runs' events, in one parameter whatever their number; a retried batch writes
        // none twice. Fenced like the updates: once another member took this one over (and
        // ended its live runs with their own events, decision 84), it writes none.
        ctes.push_back(
            "e AS (INSERT INTO run_events (run_id, seq, type, data) SELECT x.r, x.s, x.t, x.d "
            "FROM json_to_recordset(" +
            events_param +
            "::json) AS x(r text, s bigint, t text, d json) WHERE EXISTS (SELECT 1 FROM members "
            "m WHERE m.id = " +
            me + " AND m.epoch = " + my_epoch +
            "::bigint) ON CONFLICT DO NOTHING RETURNING run_id AS id)");
    }
    std::string sql;
    if (ctes.size() == 1 && !insert_sql.empty()) {
        sql = insert;
    } else {
        const bool updates = !update_sql.empty();
        const bool events = !events_param.empty();
        const std::string written =
            updates ? "SELECT id FROM u" : "SELECT NULL::text AS id WHERE false";
        const std::string changed = updates && events ? "SELECT id FROM u UNION SELECT id FROM e"
                                    : updates         ? "SELECT id FROM u"
                                                      : "SELECT DISTINCT id FROM e";
        const std::string notify =
            "SELECT pg_notify('forkrun_runs', CASE WHEN count(*) > 250 THEN '*' ELSE "
            "string_agg(id, ' ') END) FROM (" +
            changed + ") c HAVING count(*) > 0";
        sql = "WITH ";
        for (std::size_t k = 0; k < ctes.size(); ++k) {
            sql += (k == 0 ? "" : ", ") + ctes[k];
        }
        sql += " " + written;
        if (others_) {
            sql += " UNION ALL SELECT NULL FROM (" + notify + ") n";
        }
    }
    std::string error;
    auto res = conn.run(sql, params, SteadyClock::now() + config_.bound, error);
    if (!res) {
        return error.empty() ? "failed" : error;
    }
    if (!batch.finals.empty()) {
        std::unordered_set<std::string> written;
        for (int i = 0; i < PQntuples(res.get()); ++i) {
            if (!PQgetisnull(res.get(), i, 0)) {
                written.insert(PQgetvalue(res.get(), i, 0));
            }
        }
        for (const auto& w : batch.finals) {
            if (!written.contains(w.record->id())) {
                fenced.push_back(w.record->id());
            }
        }
    }
    return {};
}

}  // namespace forkrun::controller
