// PgStore: libpq in non-blocking mode on the writers' threads, every statement under a
// deadline; a batch is one statement (INSERT and UPDATE in one WITH), so it commits as one, and
// an UPDATE only lands while this controller's epoch is the member's (fencing).
#include "controller/pg_store.hpp"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <cstdlib>
#include <iostream>
#include <unordered_set>

#include "controller/pg_idempotency.hpp"
#include "controller/pg_members.hpp"
#include "controller/pg_nonces.hpp"
#include "controller/pg_quotas.hpp"
#include "controller/pg_remote.hpp"
#include "controller/pg_schema.hpp"
#include "controller/run_ids.hpp"
#include "util/timestamp.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;

namespace {

class StoreCategory : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.store"; }
    std::string message(int ev) const override {
        switch (static_cast<StoreError>(ev)) {
            case StoreError::kUnavailable:
                return "the database is unavailable";
            case StoreError::kRejected:
                return "the database refused the write";
            case StoreError::kClosed:
                return "the store is closing";
        }
        return "unknown store error";
    }
};

// One batch at most: 11 parameters a new run, 4 a change (PostgreSQL takes 65535).
constexpr std::size_t kMaxBatch = 1000;
// Before reconnecting after a failure.
constexpr auto kRetryPause = std::chrono::milliseconds(250);
// The lock every controller takes while it migrates, so two never migrate at once.
constexpr long long kMigrationLock = 0x666f726b72756e;  // "forkrun"
// Controllers sharing a store at most: each gives out the organization numbers of its slot
// modulo this.
constexpr std::uint64_t kSeqStride = 64;

using Result = PgResult;

const StoreCategory& category() {
    static const StoreCategory c;
    return c;
}

// Calls `done` (if any) on its own executor. From the store's thread, which runs no executor,
// dispatch() always queues it there (a type-erased completion executor cannot be posted to).
void complete(DurableStore::Done& done, boost::system::error_code ec) {
    if (!done) {
        return;
    }
    auto ex = asio::get_associated_executor(done);
    asio::dispatch(ex, [d = std::move(done), ec]() mutable { std::move(d)(ec); });
}

}  // namespace

const boost::system::error_category& store_category() {
    return category();
}

boost::system::error_code make_error_code(StoreError e) {
    return {static_cast<int>(e), category()};
}

int PgStore::schema_version() {
    return pg_migrations().back().version;
}

PgStore::PgStore(PgStoreConfig config) : config_(std::move(config)) {
    config_.writers = std::max<std::size_t>(1, config_.writers);
    for (std::size_t i = 0; i < config_.writers; ++i) {
        conns_.push_back(std::make_unique<Connection>());
    }
}

PgStore::~PgStore() {
    stop_members();
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) {
        t.join();
    }
    keys_.reset();
    remote_.reset();  // its last jobs still tell the members a cancel was answered
    nonces_.reset();
    quotas_.reset();
    members_.reset();
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

void PgStore::stop_members() {
    if (members_) {
        members_->stop();
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
            "+ 1, slot = coalesce(members.slot, EXCLUDED.slot) RETURNING epoch, slot",
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
    auto leftovers = run(
        "SELECT id, run_json FROM runs WHERE status IN ('waiting', 'running') AND owner_id = $1 "
        "FOR UPDATE",
        {me});
    if (!leftovers) {
        return failed("cannot read unfinished runs");
    }
    const auto now = Clock::now();
    const std::string finished = util::format_timestamp(now);
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
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        threads_.emplace_back([this, i] { loop(i); });
    }
    remote_ = std::make_unique<PgRemote>(PgRemoteConfig{config_.url, config_.bound});
    keys_ = std::make_unique<PgIdempotencyKeys>(*remote_, config_.controller_id);
    nonces_ = std::make_unique<PgNonces>(*remote_, config_.controller_id, epoch_);
    quotas_ = std::make_unique<PgQuotas>(*remote_, config_.controller_id, epoch_, config_.lease);
    PgMembersConfig members{config_.url,       config_.controller_id, config_.lease,
                            config_.heartbeat, config_.bound,         config_.lost_json};
    members_ = std::make_unique<PgMembers>(std::move(members), epoch_, others_, *remote_);
    return stored;
}

void PgStore::insert(std::shared_ptr<RunRecord> record, Done done) {
    {
        std::lock_guard lock(mu_);
        if (!stop_) {
            Waiting w{std::move(record), {}, SteadyClock::now()};
            w.done.push_back(std::move(done));
            inserts_.push_back(std::move(w));
            done = {};
        }
    }
    if (done) {
        complete(done, make_error_code(StoreError::kClosed));
        return;
    }
    wake_.notify_all();
}

void PgStore::finish(std::shared_ptr<RunRecord> record, Done done) {
    if (!done) {
        // Nobody waits (a run that ended by itself): written with the next changes, within
        // write_behind, so a burst of endings goes out in a few statements.
        run_changed(*record);
        return;
    }
    {
        std::lock_guard lock(mu_);
        auto& w = finals_[record->id()];
        if (!w.record) {
            w.record = std::move(record);
            w.since = SteadyClock::now();
        }
        if (done) {
            w.done.push_back(std::move(done));
        }
    }
    wake_.notify_all();
}

void PgStore::run_changed(const RunRecord& record) {
    const auto now = SteadyClock::now();
    std::lock_guard lock(mu_);
    if (dirty_.find(record.id()) == dirty_.end()) {
        dirty_.emplace(record.id(), now);
    }
}

std::size_t PgStore::writer_of(const std::string& run_id) const {
    return std::hash<std::string>{}(run_id) % conns_.size();
}

bool PgStore::take(Batch& batch, std::size_t writer) {
    const auto now = SteadyClock::now();
    const bool retrying = now < retry_at_;
    // Creates are answered at once while the database is away; finals and changes wait for it.
    const std::size_t inserts = std::min(inserts_.size(), kMaxBatch);
    for (std::size_t i = 0; i < inserts; ++i) {
        batch.inserts.push_back(std::move(inserts_[i]));
    }
    inserts_.erase(inserts_.begin(), inserts_.begin() + static_cast<std::ptrdiff_t>(inserts));
    if (!retrying) {
        for (auto it = finals_.begin(); it != finals_.end() && batch.finals.size() < kMaxBatch;) {
            if (writer_of(it->first) != writer) {
                ++it;
                continue;
            }
            dirty_.erase(it->first);
            batch.finals.push_back(std::move(it->second));
            it = finals_.erase(it);
        }
        for (auto it = dirty_.begin(); it != dirty_.end() && batch.changes.size() < kMaxBatch;) {
            if ((!stop_ && now - it->second < config_.write_behind) ||
                writer_of(it->first) != writer) {
                ++it;
                continue;
            }
            if (auto live = live_.find(it->first); live != live_.end()) {
                batch.changes.push_back(live->second);
            }
            it = dirty_.erase(it);
        }
    } else {
        // Waiters of finals give up after the bound; the write itself stays queued.
        for (auto& [id, w] : finals_) {
            if (now - w.since >= config_.bound) {
                for (auto& d : w.done) {
                    complete(d, make_error_code(StoreError::kUnavailable));
                }
                w.done.clear();
            }
        }
    }
    return !batch.inserts.empty() || !batch.finals.empty() || !batch.changes.empty();
}

void PgStore::loop(std::size_t writer) {
    Connection& conn = *conns_[writer];
    std::unique_lock lock(mu_);
    for (;;) {
        Batch batch;
        const bool any = take(batch, writer);
        if (!any) {
            if (stop_) {
                break;
            }
            // Wake for new work, the oldest change's write-behind or the retry.
            auto until = SteadyClock::now() + std::chrono::seconds(1);
            if (!dirty_.empty()) {
                until = std::min(until, SteadyClock::now() + config_.write_behind / 2);
            }
            if (!finals_.empty()) {
                until = std::min(until, std::max(retry_at_, SteadyClock::now() + kRetryPause));
            }
            wake_.wait_until(lock, until, [&] {
                if (stop_ || !inserts_.empty()) {
                    return true;
                }
                if (SteadyClock::now() < retry_at_) {
                    return false;
                }
                return std::any_of(finals_.begin(), finals_.end(),
                                   [&](const auto& f) { return writer_of(f.first) == writer; });
            });
            continue;
        }
        lock.unlock();
        std::string error;
        std::vector<std::string> fenced;
        const auto began = SteadyClock::now();
        bool connected = ensure_connected(conn, error);
        if (connected) {
            error = write(batch, conn, fenced);
            // A connection the database dropped (it restarted) is only found out by using it:
            // once more on a fresh one, if the first try failed fast. The insert is idempotent.
            if (!error.empty() && !conn.ok() && SteadyClock::now() - began < config_.bound / 2) {
                connected = ensure_connected(conn, error);
                if (connected) {
                    error = write(batch, conn, fenced);
                }
            }
        }
        lock.lock();
        settle(batch, error, !connected || !conn.ok(), fenced);
        if (stop_ && !error.empty()) {
            // Closing with the database away: what is left is lost with the process anyway.
            for (auto& w : inserts_) {
                for (auto& d : w.done) {
                    complete(d, make_error_code(StoreError::kClosed));
                }
            }
            inserts_.clear();
            for (auto& [id, w] : finals_) {
                for (auto& d : w.done) {
                    complete(d, make_error_code(StoreError::kClosed));
                }
            }
            finals_.clear();
            dirty_.clear();
        }
    }
}

bool PgStore::ensure_connected(Connection& conn, std::string& error) {
    if (conn.ok()) {
        return true;
    }
    return conn.connect(config_.url, config_.bound, error);
}

std::string PgStore::write(const Batch& batch, Connection& conn, std::vector<std::string>& fenced) {
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
    for (const auto& w : batch.inserts) {
        const auto& rec = *w.record;
        auto json = config_.full_json(rec);
        std::string row = rec.read([&](const Run& r) {
            return "(" + param(r.id) + "," + param(r.organization_id) + "," +
                   param(std::to_string(rec.org_seq())) + "::bigint," +
                   param(std::string(to_string(r.status))) + "," +
                   param(util::format_timestamp(r.started_at)) + "::timestamptz," +
                   param(r.is_simulation ? "t" : "f") + "::boolean," +
                   param(r.is_dust_test ? "t" : "f") + "::boolean," + param(r.workflow_id) + "," +
                   param(config_.controller_id) + "," + param(epoch) + "::bigint," +
                   doc(std::move(json)) + "::json)";
        });
        insert_sql += (insert_sql.empty() ? "" : ",") + row;
    }
    auto change = [&](const RunRecord& rec) {
        auto json = config_.full_json(rec);
        std::string row = rec.read([&](const Run& r) {
            return "(" + param(r.id) + "," + param(std::string(to_string(r.status))) + "," +
                   param(r.finished_at ? util::format_timestamp(*r.finished_at) : "") + "," +
                   doc(std::move(json)) + ")";
        });
        update_sql += (update_sql.empty() ? "" : ",") + row;
    };
    for (const auto& w : batch.finals) {
        change(*w.record);
    }
    for (const auto& r : batch.changes) {
        change(*r);
    }
    std::string me;
    std::string my_epoch;
    if (!update_sql.empty()) {
        me = param(config_.controller_id);
        my_epoch = param(epoch);
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
    // Only this controller's live rows, and only while its epoch is the member's: a controller
    // taken over (fenced) writes nothing more. The ids written are signalled to the members
    // watching them (one NOTIFY a batch; "*" when too many for its payload) while another
    // member is alive.
    const std::string update =
        "UPDATE runs AS r SET status = v.status, finished_at = "
        "nullif(v.finished_at, '')::timestamptz, run_json = v.doc::json, updated_at = now() "
        "FROM (VALUES " +
        update_sql +
        ") AS v(id, status, finished_at, doc) WHERE r.id = v.id AND r.status NOT IN ('success', "
        "'failure', 'cancelled') AND r.owner_id = " +
        me + " AND r.owner_epoch = " + my_epoch +
        "::bigint AND EXISTS (SELECT 1 FROM members m WHERE m.id = " + me +
        " AND m.epoch = " + my_epoch + "::bigint) RETURNING r.id";
    const std::string notify =
        "SELECT pg_notify('forkrun_runs', CASE WHEN count(*) > 250 THEN '*' ELSE "
        "string_agg(id, ' ') END) FROM u HAVING count(*) > 0";
    const std::string rows = others_
                                 ? " SELECT id FROM u UNION ALL SELECT NULL FROM (" + notify + ") n"
                                 : " SELECT id FROM u";
    std::string sql;
    if (update_sql.empty()) {
        sql = insert;
    } else if (insert_sql.empty()) {
        sql = "WITH u AS (" + update + ")" + rows;
    } else {
        sql = "WITH i AS (" + insert + "), u AS (" + update + ")" + rows;
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

void PgStore::settle(Batch& batch,
                     const std::string& error,
                     bool lost,
                     const std::vector<std::string>& fenced) {
    const auto ec = error.empty() ? boost::system::error_code()
                    : lost        ? make_error_code(StoreError::kUnavailable)
                                  : make_error_code(StoreError::kRejected);
    if (ec) {
        retry_at_ = SteadyClock::now() + kRetryPause;
    }
    for (auto& w : batch.inserts) {
        if (!ec) {
            live_.emplace(w.record->id(), w.record);
        }
        for (auto& d : w.done) {
            complete(d, ec);
        }
    }
    const auto now = SteadyClock::now();
    for (auto& w : batch.finals) {
        if (!ec) {
            // A row this controller no longer owns (taken over as controllerLost) stays as the
            // other member wrote it; the waiter hears that it was refused.
            const bool refused =
                std::find(fenced.begin(), fenced.end(), w.record->id()) != fenced.end();
            live_.erase(w.record->id());
            for (auto& d : w.done) {
                complete(d, refused ? make_error_code(StoreError::kRejected) : ec);
            }
            continue;
        }
        // Kept until it lands; its waiters hear after the bound.
        if (now - w.since >= config_.bound) {
            for (auto& d : w.done) {
                complete(d, ec);
            }
            w.done.clear();
        }
        auto& slot = finals_[w.record->id()];
        if (!slot.record) {
            slot = std::move(w);
        } else {
            for (auto& d : w.done) {
                slot.done.push_back(std::move(d));
            }
            slot.since = std::min(slot.since, w.since);
        }
    }
    for (const auto& r : batch.changes) {
        if (ec) {
            dirty_.emplace(r->id(), now);
        } else if (is_terminal(r->status())) {
            live_.erase(r->id());  // its last write
        }
    }
}

}  // namespace forkrun::controller
