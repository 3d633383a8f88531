// PgRemote: reads and cancel requests of other controllers' runs as jobs on the readers'
// connections; watches keyed by run id, woken from the member thread's LISTEN.
#include "controller/pg_remote.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/json/serialize.hpp>
#include <unordered_map>

#include "controller/durable_store.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;

namespace {

using SteadyClock = std::chrono::steady_clock;

// The columns every read answers, in RemoteRun's order.
constexpr std::string_view kRowColumns =
    "r.status, r.run_json, r.cancel_request IS NOT NULL, coalesce(r.cancel_result, '')";

void complete(RemoteRuns::Done& done, boost::system::error_code ec, RemoteRun run) {
    complete_on_own_executor(done, ec, std::move(run));
}

// The row from the columns of kRowColumns starting at `col`.
RemoteRun row_of(const PgResult& res, int col) {
    RemoteRun r;
    if (!res || PQntuples(res.get()) < 1) {
        return r;
    }
    r.found = true;
    r.status = PQgetvalue(res.get(), 0, col);
    r.json = PQgetvalue(res.get(), 0, col + 1);
    r.cancel_requested = std::string_view(PQgetvalue(res.get(), 0, col + 2)) == "t";
    r.cancel_result = PQgetvalue(res.get(), 0, col + 3);
    return r;
}

}  // namespace

struct PgRemote::Watches {
    using Wake = std::function<void()>;
    std::mutex mu;
    std::unordered_multimap<std::string, std::weak_ptr<Wake>> by_run;

    void wake(std::string_view ids) {
        std::vector<std::shared_ptr<Wake>> due;
        {
            std::lock_guard lock(mu);
            if (ids == "*") {
                for (auto& [id, w] : by_run) {
                    if (auto f = w.lock()) {
                        due.push_back(std::move(f));
                    }
                }
            } else {
                std::size_t at = 0;
                while (at < ids.size()) {
                    auto end = ids.find(' ', at);
                    if (end == std::string_view::npos) {
                        end = ids.size();
                    }
                    auto [b, e] = by_run.equal_range(std::string(ids.substr(at, end - at)));
                    for (; b != e; ++b) {
                        if (auto f = b->second.lock()) {
                            due.push_back(std::move(f));
                        }
                    }
                    at = end + 1;
                }
            }
        }
        for (auto& f : due) {
            (*f)();
        }
    }
};

PgRemote::PgRemote(PgRemoteConfig config)
    : config_(std::move(config)), watches_(std::make_shared<Watches>()) {
    const std::size_t n = std::max<std::size_t>(1, config_.readers);
    for (std::size_t i = 0; i < n; ++i) {
        threads_.emplace_back([this, i] { loop(i); });
    }
}

PgRemote::~PgRemote() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) {
        t.join();
    }
}

void PgRemote::submit(Job job) {
    {
        std::lock_guard lock(mu_);
        if (!stop_) {
            jobs_.push_back(std::move(job));
            job = nullptr;
        }
    }
    if (job) {
        PgConnection none;
        job(none, true);
        return;
    }
    wake_.notify_one();
}

void PgRemote::loop(std::size_t) {
    PgConnection conn;
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) {
            return;
        }
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        const bool closing = stop_;
        lock.unlock();
        job(conn, closing);
        lock.lock();
    }
}

PgResult PgRemote::run(PgConnection& conn,
                       const std::string& sql,
                       const std::vector<std::string>& params,
                       std::string& error) {
    std::vector<PgParam> values;
    values.reserve(params.size());
    for (const auto& p : params) {
        values.push_back({p.c_str()});
    }
    const auto began = SteadyClock::now();
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!conn.ok() && !conn.connect(config_.url, config_.bound, error)) {
            return nullptr;
        }
        if (auto r = conn.run_prepared(sql, values, SteadyClock::now() + config_.bound, error)) {
            return r;
        }
        if (conn.ok() || SteadyClock::now() - began >= config_.bound / 2) {
            return nullptr;  // refused by the database, or too slow to try again
        }
    }
    return nullptr;
}

void PgRemote::read_row(std::string sql, std::vector<std::string> params, bool counted, Done done) {
    // std::function wants a copyable target: the handler is shared.
    submit([this, sql = std::move(sql), params = std::move(params), counted,
            d = std::make_shared<Done>(std::move(done))](PgConnection& conn, bool closing) {
        if (closing) {
            return complete(*d, make_error_code(StoreError::kClosed), {});
        }
        std::string error;
        auto res = run(conn, sql, params, error);
        if (!res) {
            return complete(*d, make_error_code(StoreError::kUnavailable), {});
        }
        auto row = row_of(res, counted ? 1 : 0);
        row.recorded = counted && row.found && std::string_view(PQgetvalue(res.get(), 0, 0)) != "0";
        complete(*d, {}, std::move(row));
    });
}

void PgRemote::read(std::string run_id, std::string org, Done done) {
    read_row("SELECT " + std::string(kRowColumns) +
                 " FROM runs r WHERE r.id = $1 AND r.organization_id = $2",
             {std::move(run_id), std::move(org)}, false, std::move(done));
}

void PgRemote::request_cancel(std::string run_id,
                              std::string org,
                              std::string subject,
                              std::optional<std::string> reason,
                              Done done) {
    boost::json::object ask{{"subject", subject}};
    ask["reason"] = reason ? boost::json::value(*reason) : boost::json::value(nullptr);
    // The row as it was (a statement's CTEs and its query share one snapshot), and whether
    // this request was the one recorded; the owner hears of it at the commit. A signal, so its
    // commit does not wait for the disk: what the asker answers is the final
    // state the owner commits, which does. (synchronous_commit off for this statement's
    // transaction; `s` is joined so that it is evaluated.)
    read_row(
        "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)), u AS (UPDATE runs "
        "SET cancel_request = $3::json WHERE id = $1 AND organization_id "
        "= $2 AND status IN ('waiting', 'running') AND cancel_request IS NULL RETURNING "
        "owner_id), n AS (SELECT pg_notify('forkrun_cancel', owner_id) FROM u) SELECT "
        "(SELECT count(*) FROM n), " +
            std::string(kRowColumns) +
            " FROM runs r CROSS JOIN s WHERE r.id = $1 AND r.organization_id = $2",
        {std::move(run_id), std::move(org), boost::json::serialize(ask)}, true, std::move(done));
}

void PgRemote::answer_cancel(std::string run_id, std::string result, std::function<void()> then) {
    submit([this, id = std::move(run_id), result = std::move(result), then = std::move(then)](
               PgConnection& conn, bool closing) {
        const auto until = SteadyClock::now() + config_.bound;
        while (!closing) {
            std::string error;
            if (run(conn,
                    "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)), u AS "
                    "(UPDATE runs SET cancel_result = $2 WHERE id = $1 RETURNING id) "
                    "SELECT pg_notify('forkrun_runs', id) FROM u CROSS JOIN s",
                    std::vector<std::string>{id, result}, error) ||
                SteadyClock::now() >= until) {
                break;
            }
            // The database is away: the asking member polls the row and times out on its own.
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        if (then) {
            then();
        }
    });
}

void PgRemote::query(std::string sql, std::vector<std::string> params, QueryDone done) {
    submit([this, sql = std::move(sql), params = std::move(params),
            d = std::make_shared<QueryDone>(std::move(done))](PgConnection& conn, bool closing) {
        auto finish = [&](boost::system::error_code ec, Rows rows) {
            auto ex = asio::get_associated_executor(*d);
            asio::dispatch(
                ex, [d, ec, r = std::move(rows)]() mutable { std::move (*d)(ec, std::move(r)); });
        };
        if (closing) {
            return finish(make_error_code(StoreError::kClosed), {});
        }
        std::string error;
        auto res = run(conn, sql, params, error);
        if (!res) {
            return finish(make_error_code(StoreError::kUnavailable), {});
        }
        Rows rows(static_cast<std::size_t>(PQntuples(res.get())));
        for (int i = 0; i < PQntuples(res.get()); ++i) {
            for (int j = 0; j < PQnfields(res.get()); ++j) {
                rows[static_cast<std::size_t>(i)].emplace_back(PQgetvalue(res.get(), i, j));
            }
        }
        finish({}, std::move(rows));
    });
}

std::shared_ptr<void> PgRemote::watch(const std::string& run_id, std::function<void()> wake) {
    auto f = std::make_shared<Watches::Wake>(std::move(wake));
    std::lock_guard lock(watches_->mu);
    watches_->by_run.emplace(run_id, f);
    // The handle takes its entry out when dropped (the registry may be gone by then); an entry
    // a concurrent wake still holds goes with the next handle of that run.
    std::weak_ptr<Watches> registry = watches_;
    return std::shared_ptr<void>(f.get(), [f, id = run_id, registry](void*) mutable {
        f.reset();
        if (auto w = registry.lock()) {
            std::lock_guard lock(w->mu);
            auto [b, e] = w->by_run.equal_range(id);
            while (b != e) {
                b = b->second.expired() ? w->by_run.erase(b) : std::next(b);
            }
        }
    });
}

void PgRemote::wake(std::string_view ids) {
    watches_->wake(ids);
}

}  // namespace forkrun::controller
