// The durable store on PostgreSQL (libpq): writer connections on threads of their own, group
// commit of everything queued, write-behind of intermediate changes, the schema migrated at
// start; with the members (heartbeat, fencing, takeover) and the reads of other members' runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <atomic>
#include <boost/system/result.hpp>

#include "controller/durable_store.hpp"
#include "controller/event_stream.hpp"
#include "controller/idempotency_keys.hpp"
#include "controller/remote_runs.hpp"

namespace forkrun::controller {

class PgConnection;
class PgIdempotencyKeys;
class PgMembers;
class PgNonces;
class PgOrgRelay;
class PgQuotas;
class PgRemote;
class NonceAllocator;
class SharedQuotas;

struct PgStoreConfig {
    /// postgresql://... (any libpq connection string).
    std::string url;
    /// This controller's id: the owner of the runs it creates, its row in `members`.
    std::string controller_id;
    /// A run's JSON as GET answers it (the wire layer's).
    std::function<std::shared_ptr<const std::string>(const RunRecord&)> full_json;
    /// A run that was not terminal when its controller was lost, finished as `failure` with
    /// error code `controllerLost` at `now` (the wire layer's JSON in and out); empty: cannot.
    std::function<std::string(std::string_view json, Timestamp now)> lost_json;
    /// Runs read back at start, the newest ones (0: all).
    std::size_t load_limit = 0;
    /// A create or a cancel waits at most about this long for its commit.
    std::chrono::milliseconds bound{5000};
    /// An intermediate change of a run is written at most this long after it happened, and a
    /// run's changes at most once per this period.
    std::chrono::milliseconds write_behind{150};
    /// A controller silent longer than this has its live runs finished by another (--lease-ms).
    std::chrono::milliseconds lease{10000};
    /// Finished runs created more than this long ago are deleted, with their events and
    /// idempotency keys (zero: none is).
    std::chrono::milliseconds retention{0};
    /// How often the heartbeat is written (and lapsed members looked for): a quarter of the
    /// lease, at most 1 s.
    std::chrono::milliseconds heartbeat{1000};
    /// Connections writing at once, each with its thread: batches commit in parallel (the
    /// database groups their WAL flushes). A run's changes always go through the same one, so
    /// they commit in order.
    std::size_t writers = 4;
};

class PgStore final : public DurableStore {
  public:
    explicit PgStore(PgStoreConfig config);
    /// Writes what is queued (within the bound), then closes the connection.
    ~PgStore() override;
    PgStore(const PgStore&) = delete;
    PgStore& operator=(const PgStore&) = delete;

    /// At start, before serving (blocks the caller): connects, creates or migrates the schema
    /// (refusing a newer one), finishes this controller's leftover runs as `controllerLost`,
    /// and reads every run back. Then starts the store's thread. The error is a sentence.
    boost::system::result<StoredRuns, std::string> open();

    /// Where this controller answers (its `members` row).
    void set_base_url(std::string url);

    /// Starts the member thread (heartbeat, takeover of lapsed members, LISTEN): `asked` is
    /// called on it for each cancel another member records for a run this controller owns, to
    /// be answered with answer_cancel(). After open().
    void start_members(std::function<void(CancelAsk)> asked);
    /// The owner's answer to a cancel asked on another member ("cancelled", "conflict",
    /// "unstored"), once the run's final state is committed.
    void answer_cancel(const std::string& run_id, std::string result);
    /// Called on a reader thread with each `run` and `end` event of another member's run, in
    /// commit order, while another member shares the database (decision 84): for this member's
    /// organization streams. Before start_members().
    void relay_organization_events(
        std::function<void(const std::string& organization_id, Event e)> publish);
    /// Stops the member thread and the relay: no callback after it returns.
    void stop_members();
    /// Other members' runs, read through the database (after open()).
    RemoteRuns* remote();
    /// Idempotency keys in the database, shared by the members (after open()).
    IdempotencyKeys* idempotency_keys();
    /// Nonces of live transfers and per-organization quotas, shared by the members (after
    /// open(); decision 73).
    NonceAllocator* nonces();
    SharedQuotas* quotas();
    /// This controller's epoch (it changes when the controller is found fenced).
    long long epoch() const { return epoch_.load(); }

    void insert(std::shared_ptr<RunRecord> record, Done done) override;
    void finish(std::shared_ptr<RunRecord> record, Done done) override;
    void run_changed(const RunRecord& record) override;
    void append_event(const std::string& run_id,
                      std::uint64_t id,
                      std::string_view type,
                      std::string_view data) override;

    /// The schema version this build knows (the last migration's number).
    static int schema_version();

  private:
    using SteadyClock = std::chrono::steady_clock;
    using Connection = PgConnection;
    struct Waiting {
        std::shared_ptr<RunRecord> record;
        std::vector<Done> done;
        SteadyClock::time_point since;
    };
    // A run's events not yet written, in order, and when the first of them came.
    struct EventRow {
        std::uint64_t seq = 0;
        std::string type;
        std::string data;  // JSON
    };
    struct Events {
        std::vector<EventRow> rows;
        SteadyClock::time_point since;
    };
    struct Batch {
        std::vector<Waiting> inserts;
        std::vector<Waiting> finals;
        std::vector<std::shared_ptr<RunRecord>> changes;
        std::vector<std::pair<std::string, Events>> events;
    };

    void loop(std::size_t writer);
    // Takes what is due for `writer` (any new run; the finals and changes of its runs), or
    // nothing by the time the thread should look again. Holds `mu_`.
    bool take(Batch& batch, std::size_t writer);
    std::size_t writer_of(const std::string& run_id) const;
    bool has_events(std::size_t writer);
    // Whether anything of `writer`'s is still to write (any new run; its runs' finals, changes
    // and events). Holds `mu_`.
    bool owes(std::size_t writer);
    // After the writers have ended: what they could not write by the stop's deadline, its
    // waiters told kClosed, and said on stderr.
    void drop_unwritten();
    // What a batch's write came to: the error (empty once committed), whether the connection
    // was lost, `fenced` (the finals whose row this controller may no longer write),
    // `ended` (which finals, then which changes, were their run's last write), and whether the
    // new runs were refused for `epoch`, no longer the member's.
    struct Outcome {
        std::string error;
        bool lost = false;
        std::vector<std::string> fenced;
        std::vector<bool> ended;
        bool inserts_fenced = false;
        long long epoch = 0;
    };
    // One statement for the whole batch; fills `out` but `lost`.
    void write(const Batch& batch, Connection& conn, Outcome& out);
    void settle(Batch& batch, std::size_t writer, const Outcome& out);
    // Whether new runs wait for this controller to register again (their batch was fenced
    // under the epoch it still has). Holds `mu_`.
    bool inserts_held() const { return fenced_epoch_ == epoch_.load(); }
    bool ensure_connected(Connection& conn, std::string& error);

    PgStoreConfig config_;
    std::vector<std::unique_ptr<Connection>> conns_;  // one per writer thread, after open()
    std::vector<std::thread> threads_;
    std::atomic<long long> epoch_{0};
    std::atomic<bool> others_{false};  // another member is alive: batches NOTIFY what they wrote
    std::unique_ptr<PgRemote> remote_;
    std::unique_ptr<PgIdempotencyKeys> keys_;
    std::unique_ptr<PgNonces> nonces_;  // after remote_: its readers' last jobs call them
    std::unique_ptr<PgQuotas> quotas_;
    std::unique_ptr<PgOrgRelay> relay_;  // after remote_, whose readers it queries on
    std::unique_ptr<PgMembers> members_;

    std::mutex mu_;
    std::condition_variable wake_;
    bool stop_ = false;
    // Set with stop_: until then the writers keep trying what they owe, a failed batch
    // included (half the bound, so a last try that takes the whole bound ends within 1.5x).
    SteadyClock::time_point stop_deadline_{};
    std::vector<Waiting> inserts_;
    // The epoch a batch of new runs was fenced under: they wait until the member thread has
    // registered this controller again (a new epoch), or answer kUnavailable after the bound.
    long long fenced_epoch_ = -1;
    // What each writer owes of the runs it writes (writer_of), so that a writer looks only at
    // its own: finals with their waiters, and the runs with changes to write behind (the time
    // their first unwritten change happened).
    struct Due {
        std::unordered_map<std::string, Waiting> finals;
        std::unordered_map<std::string, SteadyClock::time_point> dirty;
    };
    std::vector<Due> due_;
    // Committed runs not yet terminal in the store.
    std::unordered_map<std::string, std::shared_ptr<RunRecord>> live_;
    // Events come with their run's record locked, which settle() takes under mu_: they have a
    // lock of their own, taken after mu_ when both are. By writer, like due_.
    std::mutex events_mu_;
    std::vector<std::unordered_map<std::string, Events>> events_;
    // Counts the times a writer's dirty runs or events were none and are some: each writer asleep
    // with nothing due sees it move (not a flag the first to wake would clear for the others).
    std::atomic<std::uint64_t> behind_came_{0};
    SteadyClock::time_point retry_at_{};
};

}  // namespace forkrun::controller
