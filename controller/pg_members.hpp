// The controllers sharing one database: this one's heartbeat and epoch (fencing), the takeover
// of a member whose lease lapsed (its live runs finished as controllerLost, once), and the
// LISTEN connection that hears cancels asked on other members and changes of runs. One thread
// and one connection of its own, so a slow batch of the writers never delays a heartbeat.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "controller/pg_connection.hpp"
#include "controller/remote_runs.hpp"
#include "controller/run_record.hpp"

namespace forkrun::controller {

class PgOrgRelay;
class PgRemote;

struct PgMembersConfig {
    std::string url;
    std::string controller_id;
    /// A member silent longer than this has lost its runs.
    std::chrono::milliseconds lease{10000};
    /// How often the heartbeat is written, and lapsed members and cancels are looked for.
    std::chrono::milliseconds heartbeat{1000};
    std::chrono::milliseconds bound{5000};
    /// A live run's JSON finished as `failure`/controllerLost at `now` (the wire layer's).
    std::function<std::string(std::string_view json, Timestamp now)> lost_json;
    /// How often other members' organization events are read when no NOTIFY came.
    std::chrono::milliseconds relay_poll{250};
    /// Finished runs created longer ago than this are deleted (zero: none is).
    std::chrono::milliseconds retention{0};
};

class PgMembers {
  public:
    /// `epoch`: this controller's, as registered at open; replaced when it is found fenced.
    /// `others`: whether another member's heartbeat is fresh (set every heartbeat).
    PgMembers(PgMembersConfig config,
              std::atomic<long long>& epoch,
              std::atomic<bool>& others,
              PgRemote& remote,
              PgOrgRelay& relay);
    ~PgMembers();
    PgMembers(const PgMembers&) = delete;
    PgMembers& operator=(const PgMembers&) = delete;

    /// Called on the member thread, once per recorded cancel of a live run this controller
    /// owns (again only after cancel_answered). Set before start().
    void on_cancel_asked(std::function<void(CancelAsk)> f) { on_cancel_ = std::move(f); }
    /// Called on the member thread after this controller registered again with a new epoch
    /// (it was found fenced). Set before start().
    void on_epoch(std::function<void()> f) { on_epoch_ = std::move(f); }
    /// Heartbeats at once (a writer found this controller's epoch fenced): thread-safe.
    void beat_now();
    void set_base_url(std::string url);
    void start();
    /// Stops the thread (no callback after it returns).
    void stop();
    /// The cancel of `run_id` is answered.
    void cancel_answered(const std::string& run_id);

  private:
    void loop();
    bool connect(std::string& error);
    void heartbeat();
    void take_over_lapsed();
    // Finishes the live runs of `member` older than its epoch (bumped first when its lease
    // lapsed), in one transaction.
    void take_over(const std::string& member);
    void poll_cancels();
    // Deletes a batch of runs past the retention and of idempotency keys past 24 h, on the
    // readers' connections, unless the last batch is still running; a full one sets `more`.
    void sweep();
    PgResult run(const std::string& sql, const std::vector<const char*>& params = {});

    PgMembersConfig config_;
    std::atomic<long long>& epoch_;
    std::atomic<bool>& others_;
    PgRemote& remote_;
    PgOrgRelay& relay_;
    PgConnection conn_;
    std::function<void(CancelAsk)> on_cancel_;
    std::function<void()> on_epoch_;
    std::atomic<bool> beat_now_{false};
    std::thread thread_;
    int wake_fd_ = -1;  // an eventfd: stop() interrupts the wait
    std::atomic<bool> stop_{false};

    struct Sweep {
        std::atomic<bool> running{false};
        std::atomic<bool> more{false};
    };
    // Shared with the sweep's queries, which may answer after this object is gone.
    std::shared_ptr<Sweep> sweep_ = std::make_shared<Sweep>();

    std::mutex mu_;
    std::string base_url_;
    std::set<std::string> asked_;  // cancels handed on and not yet answered
};

}  // namespace forkrun::controller
