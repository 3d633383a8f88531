// PgStore's writers: libpq in non-blocking mode on their own threads, every statement under a
// deadline; what is queued (creates, finals, changes written behind, the runs' events) is taken
// in batches, each written as one statement (pg_store_write.cpp), and settled.
#include "controller/pg_store.hpp"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <iostream>

#include "controller/pg_connection.hpp"
#include "controller/pg_members.hpp"
#include "controller/pg_remote.hpp"

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

// One batch at most, of new runs and of changes each (a statement stays a few MB at most).
constexpr std::size_t kMaxRowsPerBatch = 1000;
// Before reconnecting after a failure.
constexpr auto kRetryPause = std::chrono::milliseconds(250);

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
    complete_on_own_executor(done, ec);
}

}  // namespace

const boost::system::error_category& store_category() {
    return category();
}

boost::system::error_code make_error_code(StoreError e) {
    return {static_cast<int>(e), category()};
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
    // Any writer takes new runs: one is enough (the others, woken too, would each write the
    // few changes that came due meanwhile, in more and smaller commits).
    wake_.notify_one();
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
        auto& w = due_[writer_of(record->id())].finals[record->id()];
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
    bool first = false;
    {
        std::lock_guard lock(mu_);
        auto& dirty = due_[writer_of(record.id())].dirty;
        first = dirty.empty();
        dirty.try_emplace(record.id(), now);
        if (first) {
            // Every writer asleep for a second looks again at its write-behind: the change is
            // written within write_behind, not when the writer would have woken anyway.
            ++behind_came_;
        }
    }
    if (first) {
        wake_.notify_all();
    }
}

void PgStore::append_event(const std::string& run_id,
                           std::uint64_t id,
                           std::string_view type,
                           std::string_view data) {
    EventRow row{id, std::string(type), std::string(data)};
    bool first = false;
    {
        // Not mu_: the caller holds the run's record, which settle() takes under mu_.
        std::lock_guard lock(events_mu_);
        auto& events = events_[writer_of(run_id)];
        first = events.empty();
        auto& e = events[run_id];
        if (e.rows.empty()) {
            e.since = SteadyClock::now();
        }
        e.rows.push_back(std::move(row));
    }
    if (first) {
        // A writer asleep with nothing due looks again at its write-behind (one that is just
        // going to sleep sees the events at its next look, within a second).
        ++behind_came_;
        wake_.notify_all();
    }
}

bool PgStore::has_events(std::size_t writer) {
    std::lock_guard lock(events_mu_);
    return !events_[writer].empty();
}

std::size_t PgStore::writer_of(const std::string& run_id) const {
    return std::hash<std::string>{}(run_id) % conns_.size();
}

bool PgStore::take(Batch& batch, std::size_t writer) {
    const auto now = SteadyClock::now();
    const bool retrying = now < retry_at_;
    // Creates are answered at once while the database is away; finals and changes wait for it.
    // While fenced, they wait for the new epoch (the bound at most).
    if (inserts_held()) {
        std::erase_if(inserts_, [&](Waiting& w) {
            if (now - w.since < config_.bound) {
                return false;
            }
            for (auto& d : w.done) {
                complete(d, make_error_code(StoreError::kUnavailable));
            }
            return true;
        });
    }
    const std::size_t inserts = inserts_held() ? 0 : std::min(inserts_.size(), kMaxRowsPerBatch);
    for (std::size_t i = 0; i < inserts; ++i) {
        batch.inserts.push_back(std::move(inserts_[i]));
    }
    inserts_.erase(inserts_.begin(), inserts_.begin() + static_cast<std::ptrdiff_t>(inserts));
    auto& due = due_[writer];
    if (!retrying) {
        for (auto it = due.finals.begin();
             it != due.finals.end() && batch.finals.size() < kMaxRowsPerBatch;) {
            due.dirty.erase(it->first);
            batch.finals.push_back(std::move(it->second));
            it = due.finals.erase(it);
        }
        for (auto it = due.dirty.begin();
             it != due.dirty.end() && batch.changes.size() < kMaxRowsPerBatch;) {
            if (!stop_ && now - it->second < config_.write_behind) {
                ++it;
                continue;
            }
            if (auto live = live_.find(it->first); live != live_.end()) {
                batch.changes.push_back(live->second);
            }
            it = due.dirty.erase(it);
        }
        // A run's events go with its writer (in order), within write_behind like its changes.
        std::lock_guard events_lock(events_mu_);
        auto& events = events_[writer];
        for (auto it = events.begin(); it != events.end();) {
            if (!stop_ && now - it->second.since < config_.write_behind) {
                ++it;
                continue;
            }
            batch.events.emplace_back(it->first, std::move(it->second));
            it = events.erase(it);
        }
    } else {
        // Waiters of finals give up after the bound; the write itself stays queued.
        for (auto& [id, w] : due.finals) {
            if (now - w.since >= config_.bound) {
                for (auto& d : w.done) {
                    complete(d, make_error_code(StoreError::kUnavailable));
                }
                w.done.clear();
            }
        }
    }
    return !batch.inserts.empty() || !batch.finals.empty() || !batch.changes.empty() ||
           !batch.events.empty();
}

void PgStore::loop(std::size_t writer) {
    Connection& conn = *conns_[writer];
    std::unique_lock lock(mu_);
    for (;;) {
        // Read before the take: what comes after it wakes this writer, if it has to sleep.
        const auto seen = behind_came_.load();
        Batch batch;
        const bool any = take(batch, writer);
        if (!any) {
            if (stop_) {
                // Stopping: what this writer owes is tried again after the pause, until the
                // stop's deadline; a batch that failed meanwhile is not given up at once.
                if (!owes(writer) || SteadyClock::now() >= stop_deadline_) {
                    break;
                }
                const auto floor = SteadyClock::now() + std::chrono::milliseconds(10);
                wake_.wait_until(lock, std::min(std::max(retry_at_, floor), stop_deadline_));
                continue;
            }
            // Wake for new work, the oldest change's write-behind or the retry.
            auto until = SteadyClock::now() + std::chrono::seconds(1);
            if (!due_[writer].dirty.empty() || has_events(writer)) {
                until = std::min(until, SteadyClock::now() + config_.write_behind / 2);
            }
            if (!due_[writer].finals.empty()) {
                until = std::min(until, std::max(retry_at_, SteadyClock::now() + kRetryPause));
            }
            if (!inserts_.empty() && inserts_held()) {
                until = std::min(until, inserts_.front().since + config_.bound);
            }
            wake_.wait_until(lock, until, [&] {
                if (stop_ || (!inserts_.empty() && !inserts_held()) ||
                    behind_came_.load() != seen) {
                    return true;
                }
                if (SteadyClock::now() < retry_at_) {
                    return false;
                }
                return !due_[writer].finals.empty();
            });
            continue;
        }
        lock.unlock();
        Outcome out;
        std::string& error = out.error;
        const auto began = SteadyClock::now();
        bool connected = ensure_connected(conn, error);
        if (connected) {
            write(batch, conn, out);
            // A connection the database dropped (it restarted) is only found out by using it:
            // once more on a fresh one, if the first try failed fast. The insert is idempotent.
            if (!error.empty() && !conn.ok() && SteadyClock::now() - began < config_.bound / 2) {
                connected = ensure_connected(conn, error);
                if (connected) {
                    write(batch, conn, out);
                }
            }
        }
        if (!error.empty() && connected && conn.ok()) {
            // Refused by the database (not away): said, at most once a few seconds, since the
            // batch is retried and what it holds waits meanwhile.
            static std::atomic<long long> said_at{0};
            const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                   SteadyClock::now().time_since_epoch())
                                   .count();
            if (now_s - said_at.exchange(now_s) >= 5) {
                std::cerr << "forkrun: the store refused a batch (retried): " << error << "\n";
            }
        }
        if (error.empty() && out.inserts_fenced && members_) {
            members_->beat_now();  // registered again sooner than the next heartbeat
        }
        out.lost = !connected || !conn.ok();
        lock.lock();
        settle(batch, writer, out);
    }
}

bool PgStore::owes(std::size_t writer) {
    if (!inserts_.empty() || !due_[writer].finals.empty() || !due_[writer].dirty.empty()) {
        return true;
    }
    return has_events(writer);
}

void PgStore::drop_unwritten() {
    std::lock_guard lock(mu_);
    std::size_t runs = 0;
    for (auto& due : due_) {
        runs += due.finals.size();
        for (const auto& [id, since] : due.dirty) {
            runs += due.finals.contains(id) ? 0 : 1;
        }
        for (auto& [id, w] : due.finals) {
            for (auto& d : w.done) {
                complete(d, make_error_code(StoreError::kClosed));
            }
        }
        due = {};
    }
    for (auto& w : inserts_) {
        for (auto& d : w.done) {
            complete(d, make_error_code(StoreError::kClosed));
        }
    }
    inserts_.clear();
    std::lock_guard events_lock(events_mu_);
    std::size_t with_events = 0;
    for (auto& events : events_) {
        with_events += events.size();
        events.clear();
    }
    if (runs != 0 || with_events != 0) {
        // Their rows keep the last state written; the owner's next start resolves them.
        std::cerr << "forkrun: stopped with the store unreachable: the latest changes of " << runs
                  << " runs and the events of " << with_events << " runs were not stored\n";
    }
}

bool PgStore::ensure_connected(Connection& conn, std::string& error) {
    if (conn.ok()) {
        return true;
    }
    return conn.connect(config_.url, config_.bound, error);
}

void PgStore::settle(Batch& batch, std::size_t writer, const Outcome& out) {
    const auto& fenced = out.fenced;
    const auto& ended = out.ended;
    const auto ec = out.error.empty() ? boost::system::error_code()
                    : out.lost        ? make_error_code(StoreError::kUnavailable)
                                      : make_error_code(StoreError::kRejected);
    if (ec) {
        retry_at_ = SteadyClock::now() + kRetryPause;
    }
    const auto now = SteadyClock::now();
    if (!ec && out.inserts_fenced) {
        // Back in front, to be written under the epoch this controller registers with next;
        // take() answers those past the bound.
        fenced_epoch_ = std::max(fenced_epoch_, out.epoch);  // a later batch may know better
        inserts_.insert(inserts_.begin(), std::make_move_iterator(batch.inserts.begin()),
                        std::make_move_iterator(batch.inserts.end()));
        // Oldest first again (two writers' fenced batches may settle in either order): the
        // front's bound is the next deadline.
        std::stable_sort(inserts_.begin(), inserts_.end(),
                         [](const Waiting& a, const Waiting& b) { return a.since < b.since; });
        batch.inserts.clear();
    }
    for (auto& w : batch.inserts) {
        if (!ec) {
            live_.emplace(w.record->id(), w.record);
        }
        for (auto& d : w.done) {
            complete(d, ec);
        }
    }
    for (std::size_t k = 0; k < batch.finals.size(); ++k) {
        auto& w = batch.finals[k];
        if (!ec) {
            // A row this controller no longer owns (taken over as controllerLost) stays as the
            // other member wrote it; the waiter hears that it was refused. A run whose forks
            // are kept stays live: their release is written too.
            const bool refused =
                std::find(fenced.begin(), fenced.end(), w.record->id()) != fenced.end();
            if (refused || (k < ended.size() && ended[k])) {
                live_.erase(w.record->id());
            }
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
        auto& slot = due_[writer].finals[w.record->id()];
        if (!slot.record) {
            slot = std::move(w);
        } else {
            for (auto& d : w.done) {
                slot.done.push_back(std::move(d));
            }
            slot.since = std::min(slot.since, w.since);
        }
    }
    for (std::size_t k = 0; k < batch.changes.size(); ++k) {
        const auto& r = batch.changes[k];
        const std::size_t at = batch.finals.size() + k;
        if (ec) {
            due_[writer].dirty.emplace(r->id(), now);
        } else if (at < ended.size() && ended[at]) {
            // Its last write. Not by the run's status now: a run that ended after its change
            // was read has that change still to write (decisions 87 and 89).
            live_.erase(r->id());
        }
    }
    if (ec) {
        // Back in front of what came meanwhile, in order; written again when the database is.
        std::lock_guard events_lock(events_mu_);
        for (auto& [id, e] : batch.events) {
            auto& slot = events_[writer][id];
            e.rows.insert(e.rows.end(), std::make_move_iterator(slot.rows.begin()),
                          std::make_move_iterator(slot.rows.end()));
            slot = std::move(e);
        }
    }
}

}  // namespace forkrun::controller
