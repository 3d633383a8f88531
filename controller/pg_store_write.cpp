// PgStore's batch: one statement for everything a writer took (new runs, changed and final
// rows, the runs' events), so it commits as one; an UPDATE lands only while this controller's
// epoch is the member's (fencing), and what it wrote is signalled while another member listens.
#include <array>
#include <unordered_set>

#include "controller/pg_connection.hpp"
#include "controller/pg_store.hpp"
#include "util/timestamp.hpp"

namespace forkrun::controller {

namespace {

// The batch statement's text for one shape (which parts it has), fixed so that each writer's
// connection prepares it once (decision 95). $1 is this controller's id, $2 its epoch; then
// each part's columns as text[] arrays, row by row.
std::string batch_sql(bool inserts, bool updates, bool events, bool notify) {
    int n = 2;
    auto arrays = [&](int count) {
        std::string out;
        for (int k = 0; k < count; ++k) {
            out += (k == 0 ? "$" : ", $") + std::to_string(++n) + "::text[]";
        }
        return out;
    };
    // Only this controller's rows, live or ended with the status written (a run's kept forks
    // released after it ended; a final after the change that ended it), and only while its
    // epoch is the member's: a controller taken over (fenced) writes nothing more, and no row
    // goes from one end to another.
    const std::string fence = "EXISTS (SELECT 1 FROM members m WHERE m.id = $1 AND m.epoch = $2)";
    const std::string insert =
        "INSERT INTO runs (id, organization_id, org_seq, status, created_at, is_simulation, "
        "is_dust_test, workflow_id, owner_id, owner_epoch, run_json) SELECT v.id, v.org, "
        "v.seq::bigint, v.status, v.created::timestamptz, v.sim::boolean, v.dust::boolean, "
        "v.wf, $1, $2::bigint, v.doc::json FROM unnest(" +
        (inserts ? arrays(9) : "") +
        ") AS v(id, org, seq, status, created, sim, dust, wf, doc) WHERE " + fence +
        " ON CONFLICT (id) DO NOTHING";
    // New runs are inserted only under the member's epoch too: a controller another member
    // took over hears it from the row '' and writes them again once registered anew, instead
    // of storing runs the next scan would finish as controllerLost.
    const std::string fenced_row = " UNION ALL SELECT '' WHERE NOT " + fence;
    if (inserts && !updates && !events) {
        return "WITH i AS (" + insert + ") SELECT '' AS id WHERE NOT " + fence;
    }
    std::vector<std::string> ctes;
    if (inserts) {
        ctes.push_back("i AS (" + insert + ")");
    }
    if (updates) {
        ctes.push_back(
            "u AS (UPDATE runs AS r SET status = v.status, finished_at = "
            "nullif(v.finished_at, '')::timestamptz, run_json = v.doc::json, updated_at = now() "
            "FROM unnest(" +
            arrays(4) +
            ") AS v(id, status, finished_at, doc) WHERE r.id = v.id AND (r.status NOT IN "
            "('success', 'failure', 'cancelled') OR r.status = v.status) AND r.owner_id = $1 AND "
            "r.owner_epoch = $2::bigint AND " +
            fence + " RETURNING r.id)");
    }
    if (events) {
        // A retried batch writes none twice. Fenced like the updates: once another member took
        // this one over (and ended its live runs with their own events, decision 84), it writes
        // none.
        ctes.push_back(
            "e AS (INSERT INTO run_events (run_id, seq, type, data) SELECT x.r, x.s::bigint, x.t, "
            "x.d::json FROM unnest(" +
            arrays(4) + ") AS x(r, s, t, d) WHERE " + fence +
            " ON CONFLICT DO NOTHING RETURNING run_id AS id)");
    }
    const std::string written =
        updates ? "SELECT id FROM u" : "SELECT NULL::text AS id WHERE false";
    const std::string changed = updates && events ? "SELECT id FROM u UNION SELECT id FROM e"
                                : updates         ? "SELECT id FROM u"
                                                  : "SELECT DISTINCT id FROM e";
    std::string sql = "WITH ";
    for (std::size_t k = 0; k < ctes.size(); ++k) {
        sql += (k == 0 ? "" : ", ") + ctes[k];
    }
    sql += " " + written;
    if (inserts) {
        sql += fenced_row;
    }
    if (notify) {
        // The ids written, to the members watching them: one NOTIFY a batch ("*" when too many
        // for its payload).
        sql +=
            " UNION ALL SELECT NULL FROM (SELECT pg_notify('forkrun_runs', CASE WHEN count(*) > "
            "250 THEN '*' ELSE string_agg(id, ' ') END) FROM (" +
            changed + ") c HAVING count(*) > 0) n";
    }
    return sql;
}

// batch_sql's texts, made once.
const std::string& batch_text(bool inserts, bool updates, bool events, bool notify) {
    static const auto texts = [] {
        std::array<std::string, 16> all;
        for (std::size_t shape = 1; shape < all.size(); ++shape) {
            all[shape] =
                batch_sql((shape & 1) != 0, (shape & 2) != 0, (shape & 4) != 0, (shape & 8) != 0);
        }
        return all;
    }();
    return texts[(inserts ? 1 : 0) | (updates ? 2 : 0) | (events ? 4 : 0) | (notify ? 8 : 0)];
}

}  // namespace

void PgStore::write(const Batch& batch, Connection& conn, Outcome& out) {
    out.fenced.clear();
    out.ended.clear();
    out.inserts_fenced = false;
    out.epoch = epoch_.load();
    const std::string epoch = std::to_string(out.epoch);
    // A row's columns are read before its JSON, which is then as new or newer: a run that
    // ends in between is not stored terminal with the JSON of before (no later write could
    // mend it), and its change is written again (run_changed came after the read).
    std::array<PgBinaryTextArray, 9> ins;
    for (const auto& w : batch.inserts) {
        const auto& rec = *w.record;
        rec.read([&](const Run& r) {
            ins[0].add(r.id);
            ins[1].add(r.organization_id);
            ins[2].add(std::to_string(rec.org_seq()));
            ins[3].add(to_string(r.status));
            ins[4].add(util::format_timestamp(r.started_at));
            ins[5].add(r.is_simulation ? "t" : "f");
            ins[6].add(r.is_dust_test ? "t" : "f");
            ins[7].add(r.workflow_id);
        });
        ins[8].add(*config_.full_json(rec));
    }
    // Whether the change is the run's last write, as read (not as the run is by the commit):
    // terminal, with no fork kept for inspection, whose release changes the run again.
    std::array<PgBinaryTextArray, 4> upd;
    auto change = [&](const RunRecord& rec) {
        bool last = false;
        rec.read([&](const Run& r) {
            last = is_terminal(r.status) && !r.keeps_forks();  // RunRecord::in_progress's test
            upd[0].add(r.id);
            upd[1].add(to_string(r.status));
            upd[2].add(r.finished_at ? util::format_timestamp(*r.finished_at) : "");
        });
        upd[3].add(*config_.full_json(rec));
        return last;
    };
    for (const auto& w : batch.finals) {
        out.ended.push_back(change(*w.record));
    }
    for (const auto& r : batch.changes) {
        out.ended.push_back(change(*r));
    }
    std::array<PgBinaryTextArray, 4> ev;
    for (const auto& [id, e] : batch.events) {
        for (const auto& row : e.rows) {
            ev[0].add(id);
            ev[1].add(std::to_string(row.seq));
            ev[2].add(row.type);
            ev[3].add(row.data);
        }
    }
    const bool inserts = ins[0].size() != 0;
    const bool updates = upd[0].size() != 0;
    const bool events = ev[0].size() != 0;
    std::vector<PgParam> params{{config_.controller_id.c_str()}, {epoch.c_str()}};
    auto add = [&](auto& arrays) {
        for (auto& a : arrays) {
            params.push_back(a.param());
        }
    };
    if (inserts) {
        add(ins);
    }
    if (updates) {
        add(upd);
    }
    if (events) {
        add(ev);
    }
    std::string error;
    auto res = conn.run_prepared(batch_text(inserts, updates, events, others_), params,
                                 SteadyClock::now() + config_.bound, error);
    if (!res) {
        out.error = error.empty() ? "failed" : error;
        return;
    }
    out.error.clear();
    std::unordered_set<std::string> written;
    for (int i = 0; i < PQntuples(res.get()); ++i) {
        if (PQgetisnull(res.get(), i, 0)) {
            continue;  // the NOTIFY's row
        }
        if (PQgetlength(res.get(), i, 0) == 0) {
            out.inserts_fenced = true;  // fenced_row: no run id is empty
        } else if (!batch.finals.empty()) {
            written.insert(PQgetvalue(res.get(), i, 0));
        }
    }
    for (const auto& w : batch.finals) {
        if (!written.contains(w.record->id())) {
            out.fenced.push_back(w.record->id());
        }
    }
}

}  // namespace forkrun::controller
