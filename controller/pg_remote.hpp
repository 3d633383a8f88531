// The PostgreSQL side of runs owned by other controllers: a couple of reader connections on
// threads of their own (no HTTP thread waits on the database), and the watches the member
// thread wakes when a NOTIFY names a run.
#pragma once

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "controller/pg_connection.hpp"
#include "controller/remote_runs.hpp"

namespace forkrun::controller {

struct PgRemoteConfig {
    std::string url;
    /// A read waits at most about this long for the database.
    std::chrono::milliseconds bound{5000};
    std::size_t readers = 2;
    /// How often a watcher reads again when nothing was signalled.
    std::chrono::milliseconds poll{250};
};

/// Calls the completion handler `done` with `args` on its own executor. From a reader's or a
/// writer's thread, which runs no executor, dispatch() queues it there.
template <class Handler, class... Args>
void complete_on_own_executor(Handler& done, Args... args) {
    auto ex = boost::asio::get_associated_executor(done);
    boost::asio::dispatch(ex, [d = std::move(done), ... a = std::move(args)]() mutable {
        std::move(d)(std::move(a)...);
    });
}

class PgRemote final : public RemoteRuns {
  public:
    explicit PgRemote(PgRemoteConfig config);
    /// Answers what is still queued with kClosed and joins the readers.
    ~PgRemote() override;
    PgRemote(const PgRemote&) = delete;
    PgRemote& operator=(const PgRemote&) = delete;

    void read(std::string run_id, std::string org, Done done) override;
    void request_cancel(std::string run_id,
                        std::string org,
                        std::string subject,
                        std::optional<std::string> reason,
                        Done done) override;
    std::shared_ptr<void> watch(const std::string& run_id, std::function<void()> wake) override;
    std::chrono::milliseconds poll_interval() const override { return config_.poll; }
    bool lists_from_store() const override { return shared_.load(); }
    void list(RemoteListQuery q, ListDone done) override;
    void read_events(std::string run_id,
                     std::uint64_t after,
                     std::size_t limit,
                     EventsDone done) override;
    /// The database holds runs this process does not (another member was seen, or not every run
    /// was read back): lists read it from now on.
    void set_shared() { shared_ = true; }

    /// The owner's answer to a cancel another member recorded ("cancelled", "conflict",
    /// "unstored"), written once its final state is committed, and signalled; `then` (any
    /// thread) once written or given up.
    void answer_cancel(std::string run_id, std::string result, std::function<void()> then);

    /// The database signalled a change of these runs (ids separated by spaces; "*": any run).
    void wake(std::string_view ids);

    /// One statement with text parameters on a reader's connection: its rows (each value as
    /// text, NULL as ""), or kUnavailable. For small answers (idempotency keys).
    using Rows = std::vector<std::vector<std::string>>;
    using QueryDone = boost::asio::any_completion_handler<void(boost::system::error_code, Rows)>;
    void query(std::string sql, std::vector<std::string> params, QueryDone done);
    template <class Token>
    auto async_query(std::string sql, std::vector<std::string> params, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, Rows)>(
            [this](auto handler, std::string q, std::vector<std::string> p) {
                query(std::move(q), std::move(p), QueryDone(std::move(handler)));
            },
            token, std::move(sql), std::move(params));
    }

  private:
    // Runs on a reader thread with its connection; `closing` when the store is stopping.
    using Job = std::function<void(PgConnection& conn, bool closing)>;
    struct Watches;

    void submit(Job job);
    // A job reading one row of kRowColumns (after a count of recorded cancels when `counted`).
    void read_row(std::string sql, std::vector<std::string> params, bool counted, Done done);
    void loop(std::size_t reader);
    // One statement, connecting first, and once more on a fresh connection when it failed
    // fast on one the database dropped. Every text the readers run is fixed (values are
    // parameters), so each is prepared once a connection (PgConnection::run_prepared).
    PgResult run(PgConnection& conn,
                 const std::string& sql,
                 const std::vector<std::string>& params,
                 std::string& error);

    PgRemoteConfig config_;
    std::atomic<bool> shared_{false};
    std::shared_ptr<Watches> watches_;
    std::mutex mu_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::deque<Job> jobs_;
    std::vector<std::thread> threads_;
};

}  // namespace forkrun::controller
