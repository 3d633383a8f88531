// PgMembers: the member thread's loop (heartbeat, takeover of lapsed members, cancels asked for
// this controller's runs, NOTIFYs to the watches), all on one LISTEN connection.
#include "controller/pg_members.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <iostream>

#include "controller/pg_org_relay.hpp"
#include "controller/pg_remote.hpp"
#include "controller/pg_schema.hpp"
#include "util/timestamp.hpp"

namespace forkrun::controller {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Payloads of forkrun_runs stay under PostgreSQL's 8000 bytes: at most this many ids (27 bytes
// each), else "*".
constexpr std::size_t kIdsPerNotice = 250;
constexpr auto kReconnectPause = std::chrono::milliseconds(250);

}  // namespace

PgMembers::PgMembers(PgMembersConfig config,
                     std::atomic<long long>& epoch,
                     std::atomic<bool>& others,
                     PgRemote& remote,
                     PgOrgRelay& relay)
    : config_(std::move(config)), epoch_(epoch), others_(others), remote_(remote), relay_(relay) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

PgMembers::~PgMembers() {
    stop();
    if (wake_fd_ >= 0) {
        ::close(wake_fd_);
    }
}

void PgMembers::set_base_url(std::string url) {
    std::lock_guard lock(mu_);
    base_url_ = std::move(url);
}

void PgMembers::start() {
    thread_ = std::thread([this] { loop(); });
}

void PgMembers::stop() {
    stop_ = true;
    if (wake_fd_ >= 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    }
    if (thread_.joinable()) {
        thread_.join();
    }
}

void PgMembers::beat_now() {
    beat_now_ = true;
    if (wake_fd_ >= 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    }
}

void PgMembers::cancel_answered(const std::string& run_id) {
    std::lock_guard lock(mu_);
    asked_.erase(run_id);
}

PgResult PgMembers::run(const std::string& sql, const std::vector<const char*>& params) {
    std::string error;
    return conn_.run(sql, params, SteadyClock::now() + config_.bound, error);
}

bool PgMembers::connect(std::string& error) {
    if (!conn_.connect(config_.url, config_.bound, error)) {
        return false;
    }
    return static_cast<bool>(run("LISTEN forkrun_runs; LISTEN forkrun_cancel"));
}

void PgMembers::loop() {
    auto next_beat = SteadyClock::now();
    auto next_relay = SteadyClock::now();
    // Deleting what is past the retention: at this pace, and at the next turn after a full batch.
    const auto sweep_every = std::clamp(config_.retention / 4, std::chrono::milliseconds(250),
                                        std::chrono::milliseconds(60000));
    auto next_sweep = SteadyClock::now();
    while (!stop_) {
        if (!conn_.ok()) {
            std::string error;
            if (!connect(error)) {
                std::this_thread::sleep_for(kReconnectPause);
                continue;
            }
            remote_.wake("*");  // what was signalled while away is not replayed
            next_beat = SteadyClock::now();
        }
        if (beat_now_.exchange(false)) {
            next_beat = SteadyClock::now();
        }
        if (SteadyClock::now() >= next_beat) {
            next_beat = SteadyClock::now() + config_.heartbeat;
            heartbeat();
            take_over_lapsed();
            poll_cancels();
        }
        if (config_.retention.count() > 0 &&
            (sweep_->more.exchange(false) || SteadyClock::now() >= next_sweep)) {
            next_sweep = SteadyClock::now() + sweep_every;
            sweep();
        }
        // Other members' organization events: on their NOTIFY, else every relay_poll (a
        // NOTIFY can come before the transaction older than it ends, which holds it back).
        if (SteadyClock::now() >= next_relay) {
            next_relay = SteadyClock::now() + config_.relay_poll;
            relay_.poke();
        }
        auto until = std::min(next_beat, next_relay);
        if (config_.retention.count() > 0) {
            until = std::min(until, next_sweep);
        }
        conn_.wait_input(until, wake_fd_);
        if (wake_fd_ >= 0) {
            std::uint64_t woken = 0;  // drained, so the next wait waits (beat_now, stop)
            [[maybe_unused]] auto n = ::read(wake_fd_, &woken, sizeof woken);
        }
        bool cancels = false;
        bool changed = false;
        for (const auto& n : conn_.take_notices()) {
            if (n.channel == "forkrun_runs") {
                remote_.wake(n.payload);
                changed = true;
            } else if (n.channel == "forkrun_cancel" && n.payload == config_.controller_id) {
                cancels = true;
            }
        }
        if (changed) {
            relay_.poke();
        }
        if (cancels && !stop_) {
            poll_cancels();
        }
    }
}

void PgMembers::heartbeat() {
    std::string base;
    {
        std::lock_guard lock(mu_);
        base = base_url_;
    }
    const std::string epoch = std::to_string(epoch_.load());
    const char* me = config_.controller_id.c_str();
    auto beat =
        run("UPDATE members SET heartbeat_at = now(), base_url = $2 WHERE id = $1 AND epoch = "
            "$3::bigint RETURNING epoch, pg_snapshot_xmin(pg_current_snapshot())::text",
            {me, base.c_str(), epoch.c_str()});
    if (!beat) {
        return;  // the database is away: the lease runs on
    }
    if (PQntuples(beat.get()) > 0) {
        relay_.note_horizon(PQgetvalue(beat.get(), 0, 1));
        // Renewed. Is anyone else there to hear the writers' NOTIFYs (each one serializes the
        // commits that carry one, so a lone controller sends none)?
        const std::string lease = std::to_string(config_.lease.count()) + " milliseconds";
        auto others =
            run("SELECT EXISTS (SELECT 1 FROM members WHERE id <> $1 AND heartbeat_at > now() - "
                "$2::interval)",
                {me, lease.c_str()});
        if (others) {
            others_ = pg_first(others) == "t";
            if (others_) {
                remote_.set_shared();  // its runs are in the database only, for good
            }
        }
        return;
    }
    // Fenced: another member found this one's lease lapsed and finished its runs. Register
    // again with a new epoch; runs written under the old one are finished by the next scan.
    auto again =
        run("INSERT INTO members (id, base_url, started_at, heartbeat_at, epoch) VALUES ($1, $2, "
            "now(), now(), 1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), base_url = $2, "
            "epoch = members.epoch + 1 RETURNING epoch",
            {me, base.c_str()});
    if (again && PQntuples(again.get()) > 0) {
        epoch_ = std::stoll(pg_first(again));
        std::cerr << "forkrun: this controller's lease lapsed and its live runs were finished as "
                     "controllerLost by another; registered again with epoch "
                  << epoch_.load() << "\n";
        if (on_epoch_) {
            on_epoch_();  // new runs held back by the fence are written under it
        }
    }
}

void PgMembers::take_over_lapsed() {
    const std::string lease = std::to_string(config_.lease.count()) + " milliseconds";
    auto members = run(
        "SELECT DISTINCT m.id FROM members m JOIN runs r ON r.owner_id = m.id WHERE r.status IN "
        "('waiting', 'running') AND ((m.id <> $1 AND m.heartbeat_at < now() - $2::interval) OR "
        "r.owner_epoch < m.epoch)",
        {config_.controller_id.c_str(), lease.c_str()});
    if (!members) {
        return;
    }
    for (int i = 0; i < PQntuples(members.get()) && !stop_; ++i) {
        take_over(PQgetvalue(members.get(), i, 0));
    }
}

void PgMembers::take_over(const std::string& member) {
    const std::string lease = std::to_string(config_.lease.count()) + " milliseconds";
    if (!run("BEGIN")) {
        return;
    }
    auto rollback = [&] { run("ROLLBACK"); };
    // The member's row locked (another member taking it over waits here), its epoch bumped if
    // its lease lapsed: its later writes are fenced off.
    auto epoch =
        run("UPDATE members SET epoch = epoch + CASE WHEN id <> $2 AND heartbeat_at < now() - "
            "$3::interval THEN 1 ELSE 0 END WHERE id = $1 RETURNING epoch",
            {member.c_str(), config_.controller_id.c_str(), lease.c_str()});
    if (!epoch || PQntuples(epoch.get()) < 1) {
        return rollback();
    }
    const std::string current = pg_first(epoch);
    auto live = run(
        "SELECT id, run_json FROM runs WHERE owner_id = $1 AND status IN ('waiting', 'running') "
        "AND owner_epoch < $2::bigint FOR UPDATE",
        {member.c_str(), current.c_str()});
    if (!live) {
        return rollback();
    }
    const int n = PQntuples(live.get());
    if (n == 0 || !config_.lost_json) {
        run("COMMIT");
        return;
    }
    const auto now = Clock::now();
    const std::string finished = util::format_timestamp(now);
    std::vector<std::string> values{finished};
    std::string rows;
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
        ids.emplace_back(PQgetvalue(live.get(), i, 0));
        values.push_back(ids.back());
        values.push_back(config_.lost_json(PQgetvalue(live.get(), i, 1), now));
        rows += (rows.empty() ? "($" : ",($") + std::to_string(values.size() - 1) + ",$" +
                std::to_string(values.size()) + ")";
    }
    // Their `run` and `end` events first, while the rows are still live (decision 84).
    const std::string id_array = pg_text_array(ids);
    if (!run(kAppendLostEvents, {id_array.c_str(), finished.c_str()})) {
        return rollback();
    }
    std::vector<const char*> params;
    for (const auto& v : values) {
        params.push_back(v.c_str());
    }
    // One UPDATE of rows still live: a run is finished once whoever else tries.
    auto done = run(
        "UPDATE runs AS r SET status = 'failure', finished_at = $1::timestamptz, run_json = "
        "v.doc::json, updated_at = now(), cancel_result = CASE WHEN r.cancel_request IS NOT NULL "
        "AND r.cancel_result IS NULL THEN 'lost' ELSE r.cancel_result END FROM (VALUES " +
            rows + ") AS v(id, doc) WHERE r.id = v.id AND r.status IN ('waiting', 'running')",
        params);
    if (!done) {
        return rollback();
    }
    for (std::size_t at = 0; at < ids.size(); at += kIdsPerNotice) {
        std::string payload;
        for (std::size_t i = at; i < std::min(ids.size(), at + kIdsPerNotice); ++i) {
            payload += (payload.empty() ? "" : " ") + ids[i];
        }
        run("SELECT pg_notify('forkrun_runs', $1)", {payload.c_str()});
    }
    if (run("COMMIT")) {
        std::cerr << "forkrun: controller " << member << " is lost; " << n
                  << " of its runs finished as controllerLost\n";
    }
}

void PgMembers::sweep() {
    constexpr std::size_t kBatch = 500;
    if (sweep_->running.exchange(true)) {
        return;  // the last one is still in the database
    }
    const std::string retention = std::to_string(config_.retention.count()) + " milliseconds";
    // Runs another member is deleting are skipped, not waited for; runs with a fork kept for
    // debugging stay until it is released (their `end` comes then). Their events go with them;
    // their idempotency keys stay for their 24 h (a repeat then answers 409, decision 62). On
    // the readers' connections: a slow delete never holds up a heartbeat.
    const std::string runs =
        "WITH gone AS (DELETE FROM runs WHERE id IN (SELECT r.id FROM runs r WHERE r.created_at < "
        "now() - $1::interval AND r.finished_at < now() - $1::interval AND r.status IN "
        "('success', 'failure', 'cancelled') AND NOT EXISTS (SELECT 1 FROM json_each(CASE WHEN "
        "json_typeof(r.run_json->'executionState'->'forks') = 'object' THEN "
        "r.run_json->'executionState'->'forks' END) f WHERE f.value->>'state' = 'kept') ORDER BY "
        "r.created_at LIMIT " +
        std::to_string(kBatch) +
        " FOR UPDATE SKIP LOCKED) RETURNING id), events AS (DELETE FROM run_events WHERE run_id IN "
        "(SELECT id FROM gone)) SELECT count(*) FROM gone";
    const std::string keys =
        "WITH gone AS (DELETE FROM idempotency_keys WHERE (organization_id, key) IN (SELECT "
        "organization_id, key FROM idempotency_keys WHERE claimed_at < now() - interval '24 "
        "hours' LIMIT " +
        std::to_string(kBatch) + " FOR UPDATE SKIP LOCKED) RETURNING 1) SELECT count(*) FROM gone";
    // Whether a batch deleted all it could take (its one row: the count).
    auto full = [](boost::system::error_code ec, const PgRemote::Rows& rows) {
        return !ec && !rows.empty() && !rows[0].empty() && std::stoull(rows[0][0]) >= kBatch;
    };
    auto state = sweep_;
    remote_.query(runs, {retention},
                  [state, keys, full, this_remote = &remote_](boost::system::error_code ec,
                                                              PgRemote::Rows rows) {
                      const bool full_runs = full(ec, rows);
                      this_remote->query(keys, {},
                                         [state, full, full_runs](boost::system::error_code kec,
                                                                  PgRemote::Rows krows) {
                                             const bool full_keys = full(kec, krows);
                                             // A full batch: more is due, at the member thread's
                                             // next turn.
                                             state->more = full_runs || full_keys;
                                             state->running = false;
                                         });
                  });
}

// Every unanswered cancel, of live runs and of runs that ended meanwhile (those are answered
// as a conflict): the asking member waits for an answer (an index holds just these rows).
void PgMembers::poll_cancels() {
    auto asked =
        run("SELECT id, organization_id, cancel_request::text FROM runs WHERE owner_id = $1 AND "
            "cancel_request IS NOT NULL AND cancel_result IS NULL",
            {config_.controller_id.c_str()});
    if (!asked || !on_cancel_) {
        return;
    }
    for (int i = 0; i < PQntuples(asked.get()); ++i) {
        CancelAsk ask{PQgetvalue(asked.get(), i, 0), PQgetvalue(asked.get(), i, 1), {}, {}};
        {
            std::lock_guard lock(mu_);
            if (!asked_.insert(ask.run_id).second) {
                continue;  // handed on already
            }
        }
        boost::system::error_code ec;
        const auto doc = boost::json::parse(PQgetvalue(asked.get(), i, 2), ec);
        if (const auto* o = ec ? nullptr : doc.if_object()) {
            if (const auto* s = o->if_contains("subject"); s && s->is_string()) {
                ask.subject = std::string(s->get_string());
            }
            if (const auto* r = o->if_contains("reason"); r && r->is_string()) {
                ask.reason = std::string(r->get_string());
            }
        }
        on_cancel_(std::move(ask));
    }
}

}  // namespace forkrun::controller
