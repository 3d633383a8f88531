// PgOrgRelay: a cursor over the committed `run` and `end` events in (xid, run_id, seq) order,
// advanced by every row read, this member's own included (their data is left unread), so a
// read never scans the same rows twice.
#include "controller/pg_org_relay.hpp"

#include <utility>
#include <vector>

#include "controller/pg_remote.hpp"

namespace forkrun::controller {

namespace {

// The events after the cursor in commit order, only those of transactions that have ended:
// below the oldest open one, nothing can still be committed. Columns: xid, run id, seq, whether
// this member owns the run, type, data, organization, workflow, simulation.
constexpr const char* kReadSql =
    "SELECT e.xid::text, e.run_id, e.seq, r.owner_id = $4, e.type, CASE WHEN r.owner_id = $4 "
    "THEN '' ELSE e.data::text END, r.organization_id, r.workflow_id, r.is_simulation FROM "
    "run_events e JOIN runs r ON r.id = e.run_id WHERE e.type IN ('run', 'end') AND e.xid IS "
    "NOT NULL AND (e.xid, e.run_id, e.seq) > ($1::xid8, $2::text, $3::bigint) AND e.xid < "
    "pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.xid, e.run_id, e.seq LIMIT ";

}  // namespace

struct PgOrgRelay::State {
    PgRemote* remote = nullptr;
    std::string controller_id;
    std::mutex mu;
    Publish publish;
    bool stopped = false;
    bool reading = false;
    bool again = false;
    // The horizons of the last two heartbeats while the relay had not started.
    std::string previous_horizon;
    std::string horizon;
    // The cursor: the last event read (started once the database is shared).
    bool started = false;
    std::string xid;
    std::string run_id;
    std::string seq = "0";
};

PgOrgRelay::PgOrgRelay(PgRemote& remote, std::string controller_id)
    : remote_(remote), state_(std::make_shared<State>()) {
    state_->remote = &remote_;
    state_->controller_id = std::move(controller_id);
}

void PgOrgRelay::set_publish(Publish publish) {
    std::lock_guard lock(state_->mu);
    state_->publish = std::move(publish);
}

void PgOrgRelay::note_horizon(std::string xmin) {
    std::lock_guard lock(state_->mu);
    if (!state_->started) {
        state_->previous_horizon = std::exchange(state_->horizon, std::move(xmin));
    }
}

void PgOrgRelay::poke() {
    auto& s = *state_;
    {
        std::lock_guard lock(s.mu);
        if (s.stopped || !s.publish || !remote_.lists_from_store()) {
            return;
        }
        if (!s.started) {
            const auto& from = s.previous_horizon.empty() ? s.horizon : s.previous_horizon;
            if (from.empty()) {
                return;  // no heartbeat yet
            }
            s.started = true;
            s.xid = from;
            s.run_id.clear();
            s.seq = "0";
        }
        if (s.reading) {
            s.again = true;
            return;
        }
        s.reading = true;
    }
    read(state_);
}

void PgOrgRelay::stop() {
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
    state_->publish = nullptr;
}

void PgOrgRelay::read(const std::shared_ptr<State>& s) {
    std::vector<std::string> params;
    {
        std::lock_guard lock(s->mu);
        params = {s->xid, s->run_id, s->seq, s->controller_id};
    }
    s->remote->query(kReadSql + std::to_string(kPage), std::move(params),
                     [s](boost::system::error_code ec, PgRemote::Rows rows) {
                         bool more = false;
                         {
                             std::lock_guard lock(s->mu);
                             for (const auto& row : rows) {
                                 if (row.size() < 9 || s->stopped) {
                                     break;
                                 }
                                 s->xid = row[0];
                                 s->run_id = row[1];
                                 s->seq = row[2];
                                 if (row[3] == "t") {
                                     continue;  // this member's own: its streams have it already
                                 }
                                 Event e;
                                 e.type = row[4];
                                 e.data = row[5];
                                 e.workflow_id = row[7];
                                 e.is_simulation = row[8] == "t";
                                 try {
                                     s->publish(row[6], std::move(e));
                                 } catch (const std::exception&) {
                                     // Out of memory in a stream: this event is lost, not
                                     // the relay.
                                 }
                             }
                             // A full page, or a poke while reading: read again. After an error
                             // (the database away, the store closing) the next poke does.
                             more = !s->stopped && !ec && (rows.size() >= kPage || s->again);
                             s->again = false;
                             s->reading = more;
                         }
                         if (more) {
                             read(s);
                         }
                     });
}

}  // namespace forkrun::controller
