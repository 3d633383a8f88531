// PgStore's construction and end, and open(): at start, before serving: the schema created or
// migrated (forward-only, under a lock every controller takes), this controller registered in
// members with a new epoch (and a slot of the organization numbers), its leftover runs finished as
// controllerLost, and every stored run read back. Then the parts open() makes, as the controller
// reaches them: members, cancels asked and answered, the organizations' relay, keys, nonces and
// quotas.
#include <algorithm>
#include <cstdlib>

#include "controller/pg_connection.hpp"
#include "controller/pg_idempotency.hpp"
#include "controller/pg_members.hpp"
#include "controller/pg_nonces.hpp"
#include "controller/pg_org_relay.hpp"
#include "controller/pg_quotas.hpp"
#include "controller/pg_remote.hpp"
#include "controller/pg_schema.hpp"
#include "controller/pg_store.hpp"
#include "controller/run_ids.hpp"
#include "util/timestamp.hpp"

namespace forkrun::controller {

namespace {

// The lock every controller takes while it migrates, so two never migrate at once.
constexpr long long kMigrationLock = 0x666f726b72756e;  // "forkrun"
// Controllers sharing a store at most: each gives out the organization numbers of its slot
// modulo this.
constexpr std::uint64_t kSeqStride = 64;

}  // namespace

int PgStore::schema_version() {
    return pg_migrations().back().version;
}

PgStore::PgStore(PgStoreConfig config) : config_(std::move(config)) {
    config_.writers = std::max<std::size_t>(1, config_.writers);
    for (std::size_t i = 0; i < config_.writers; ++i) {
        conns_.push_back(std::make_unique<Connection>());
    }
    due_.resize(config_.writers);
    events_.resize(config_.writers);
}

PgStore::~PgStore() {
    stop_members();
    {
        std::lock_guard lock(mu_);
        stop_ = true;
        stop_deadline_ = SteadyClock::now() + config_.bound / 2;
    }
    wake_.notify_all();
    for (auto& t : threads_) {
        t.join();
    }
    drop_unwritten();
    keys_.reset();
    remote_.reset();  // its last jobs still tell the members a cancel was answered
    nonces_.reset();
    quotas_.reset();
    members_.reset();
}

boost::system::result<StoredRuns, std::string> PgStore::open() {
    std::string error;
    auto deadline = [this] { return SteadyClock::now() + config_.bound; };
    auto& conn = *conns_.front();
    if (!conn.connect(config_.url, config_.bound, error)) {
        return error;
    }
    auto run = [&](const std::string& sql, const std::vector<const char*>& params = {}) {
        return conn.run(sql, params, deadline(), error);
    };
    auto failed = [&](std::string what) { return what + ": " + error; };

    // Migrations: one transaction, under a lock every controller takes.
    if (!run("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) +
             "); CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
             "applied_at timestamptz NOT NULL DEFAULT now())")) {
        return failed("cannot create schema_migrations");
    }
    auto current = run("SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (!current) {
        return failed("cannot read the schema version");
    }
    const int have = std::atoi(PQgetvalue(current.get(), 0, 0));
    if (have > schema_version()) {
        run("ROLLBACK");
        return "the database's schema is version " + std::to_string(have) +
               ", newer than this forkrun knows (" + std::to_string(schema_version()) +
               "); run a newer forkrun, or point --store at another database";
    }
    for (const auto& m : pg_migrations()) {
        if (m.version <= have) {
            continue;
        }
        if (!run(std::string(m.sql)) || !run("INSERT INTO schema_migrations (version) VALUES (" +
                                             std::to_string(m.version) + ")")) {
            return failed("migration " + std::to_string(m.version) + " failed");
        }
    }
    if (!run("COMMIT")) {
        return failed("cannot commit the migrations");
    }

    // This controller's leftovers: their forks died with the process that owned them.
    if (!run("BEGIN")) {
        return failed("cannot begin");
    }
    const char* me = config_.controller_id.c_str();
    // Registered first, its row locked: a member taking this one over waits, and this start's
    // epoch fences every write of the process before it.
    // Its slot is kept for good once given: the lowest free one, under the migrations' lock.
    if (!run("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")")) {
        return failed("cannot register in members");
    }
    auto registered = run(
        "INSERT INTO members (id, base_url, started_at, heartbeat_at, epoch, slot) VALUES ($1, "
        "'', now(), now(), 1, (SELECT min(s) FROM generate_series(0, " +
            std::to_string(kSeqStride - 1) +
            ") s WHERE s NOT IN (SELECT slot FROM members WHERE slot IS NOT NULL))) ON CONFLICT "
            "(id) DO UPDATE SET started_at = now(), heartbeat_at = now(), epoch = members.epoch "
            "+ 1, slot = coalesce(members.slot, EXCLUDED.slot) RETURNING epoch, slot, "
            "pg_snapshot_xmin(pg_current_snapshot())::text",
        {me});
    if (!registered || PQntuples(registered.get()) < 1) {
        return failed("cannot register in members");
    }
    if (PQgetisnull(registered.get(), 0, 1)) {
        run("ROLLBACK");
        return "the store already has " + std::to_string(kSeqStride) +
               " controllers in members; remove one that is gone, or use another database";
    }
    epoch_ = std::stoll(pg_first(registered));
    const auto slot = std::stoull(PQgetvalue(registered.get(), 0, 1));
    // Where the organization relay starts: before any event of a member registered since.
    const std::string horizon = PQgetvalue(registered.get(), 0, 2);
    auto leftovers = run(
        "SELECT id, run_json FROM runs WHERE status IN ('waiting', 'running') AND owner_id = $1 "
        "FOR UPDATE",
        {me});
    if (!leftovers) {
        return failed("cannot read unfinished runs");
    }
    const auto now = Clock::now();
    const std::string finished = util::format_timestamp(now);
    if (config_.lost_json && PQntuples(leftovers.get()) > 0) {
        // Their `run` and `end` events first, while the rows are still live (decision 84).
        std::vector<std::string> ids;
        for (int i = 0; i < PQntuples(leftovers.get()); ++i) {
            ids.emplace_back(PQgetvalue(leftovers.get(), i, 0));
        }
        const std::string id_array = pg_text_array(ids);
        if (!run(kAppendLostEvents, {id_array.c_str(), finished.c_str()})) {
            return failed("cannot finish an unfinished run");
        }
    }
    for (int i = 0; i < PQntuples(leftovers.get()); ++i) {
        if (!config_.lost_json) {
            break;
        }
        const std::string lost = config_.lost_json(PQgetvalue(leftovers.get(), i, 1), now);
        if (!run("UPDATE runs SET status = 'failure', finished_at = $2::timestamptz, "
                 "run_json = $3::json, updated_at = now(), cancel_result = CASE WHEN "
                 "cancel_request IS NOT NULL AND cancel_result IS NULL THEN 'lost' ELSE "
                 "cancel_result END WHERE id = $1",
                 {PQgetvalue(leftovers.get(), i, 0), finished.c_str(), lost.c_str()})) {
            return failed("cannot finish an unfinished run");
        }
    }
    if (!run("COMMIT")) {
        return failed("cannot resolve unfinished runs");
    }

    StoredRuns stored;
    stored.org_seq_stride = kSeqStride;
    stored.org_seq_slot = slot;
    const std::string key = random_token(32);
    auto cursor_key =
        run("WITH new AS (INSERT INTO settings (key, value) VALUES ('cursor_key', $1) ON CONFLICT "
            "(key) DO NOTHING RETURNING value) SELECT value FROM new UNION ALL SELECT value FROM "
            "settings WHERE key = 'cursor_key'",
            {key.c_str()});
    if (!cursor_key || PQntuples(cursor_key.get()) < 1) {
        return failed("cannot read the cursor key");
    }
    stored.cursor_key = PQgetvalue(cursor_key.get(), 0, 0);
    const std::string limit = config_.load_limit == 0 ? "ALL" : std::to_string(config_.load_limit);
    auto rows =
        run("SELECT id, organization_id, org_seq, run_json FROM (SELECT id, organization_id, "
            "org_seq, run_json, created_at FROM runs WHERE status IN ('success', 'failure', "
            "'cancelled') ORDER BY created_at DESC, id LIMIT " +
            limit + ") newest ORDER BY created_at, id");
    if (!rows) {
        return failed("cannot read the runs");
    }
    const int n = PQntuples(rows.get());
    stored.runs.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        stored.runs.push_back(StoredRun{PQgetvalue(rows.get(), i, 0), PQgetvalue(rows.get(), i, 1),
                                        std::strtoull(PQgetvalue(rows.get(), i, 2), nullptr, 10),
                                        PQgetvalue(rows.get(), i, 3)});
    }
    rows.reset();
    auto seqs = run("SELECT organization_id, max(org_seq) FROM runs GROUP BY organization_id");
    if (!seqs) {
        return failed("cannot read the sequence numbers");
    }
    for (int i = 0; i < PQntuples(seqs.get()); ++i) {
        stored.org_last_seq.emplace_back(PQgetvalue(seqs.get(), i, 0),
                                         std::strtoull(PQgetvalue(seqs.get(), i, 1), nullptr, 10));
    }
    // Live runs of other members, or runs not read back: lists must read the database.
    auto unheld =
        run("SELECT EXISTS (SELECT 1 FROM runs WHERE status IN ('waiting', 'running') AND owner_id "
            "<> $1)",
            {me});
    if (!unheld) {
        return failed("cannot read the other members' runs");
    }
    const bool shared = pg_first(unheld) == "t" ||
                        (config_.load_limit != 0 && stored.runs.size() >= config_.load_limit);
    remote_ = std::make_unique<PgRemote>(PgRemoteConfig{config_.url, config_.bound});
    if (shared) {
        remote_->set_shared();
    }
    keys_ = std::make_unique<PgIdempotencyKeys>(*remote_, config_.controller_id);
    nonces_ = std::make_unique<PgNonces>(*remote_, config_.controller_id, epoch_);
    quotas_ = std::make_unique<PgQuotas>(*remote_, config_.controller_id, epoch_, config_.lease);
    PgMembersConfig members{config_.url,       config_.controller_id, config_.lease,
                            config_.heartbeat, config_.bound,         config_.lost_json};
    members.retention = config_.retention;
    relay_ = std::make_unique<PgOrgRelay>(*remote_, config_.controller_id);
    relay_->note_horizon(horizon);
    members_ = std::make_unique<PgMembers>(std::move(members), epoch_, others_, *remote_, *relay_);
    members_->on_epoch([this] {
        { std::lock_guard lock(mu_); }  // a writer deciding to sleep has decided
        wake_.notify_all();
    });
    // The writers last: they may ask members_ for a heartbeat.
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        threads_.emplace_back([this, i] { loop(i); });
    }
    return stored;
}

void PgStore::set_base_url(std::string url) {
    if (members_) {
        members_->set_base_url(std::move(url));
    }
}

void PgStore::start_members(std::function<void(CancelAsk)> asked) {
    if (members_) {
        members_->on_cancel_asked(std::move(asked));
        members_->start();
    }
}

void PgStore::answer_cancel(const std::string& run_id, std::string result) {
    if (!remote_) {
        return;
    }
    remote_->answer_cancel(run_id, std::move(result), [this, run_id] {
        if (members_) {
            members_->cancel_answered(run_id);
        }
    });
}

void PgStore::relay_organization_events(
    std::function<void(const std::string& organization_id, Event e)> publish) {
    if (relay_) {
        relay_->set_publish(std::move(publish));
    }
}

void PgStore::stop_members() {
    if (members_) {
        members_->stop();
    }
    if (relay_) {
        relay_->stop();
    }
}

RemoteRuns* PgStore::remote() {
    return remote_.get();
}

IdempotencyKeys* PgStore::idempotency_keys() {
    return keys_.get();
}

NonceAllocator* PgStore::nonces() {
    return nonces_.get();
}

SharedQuotas* PgStore::quotas() {
    return quotas_.get();
}

}  // namespace forkrun::controller
