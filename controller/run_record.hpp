// One stored run: its state behind a lock, a cache of its serialized forms, and watchers of its
// status.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/packed_text.hpp"
#include "controller/run.hpp"
#include "controller/run_events.hpp"

namespace forkrun::controller {

/// Something that wants to hear when a run's status changes (a long-poll). Held weakly.
class RunRecord;

class StatusWatcher {
  public:
    virtual ~StatusWatcher() = default;
    /// Called with the record's lock released, on whichever thread changed the status.
    virtual void on_status_change() = 0;
};

/// Told after every change of a run (a durable store writing it behind). Called with the
/// record's lock released, on whichever thread changed it; must not block.
class RunChangeSink {
  public:
    virtual ~RunChangeSink() = default;
    virtual void run_changed(const RunRecord& record) = 0;
};

/// The serialized forms a record can cache; the wire layer decides what they contain.
enum class RunView { kFull = 0, kSummary = 1 };

/// What the wire layer reads off a run's full text (RunRecord::compact): its summary view, and
/// where the definition and propValues lie in it ([a, a + n), [b, b + m)).
struct RunTextCut {
    std::string summary;
    std::array<std::uint32_t, 4> request{};
};

class RunRecord {
  public:
    /// `seq` orders runs across the store; `org_seq` counts the runs of the run's organization.
    RunRecord(Run run, std::uint64_t seq, std::uint64_t org_seq = 0);

    /// A terminal run read back from a durable store: compacted from the start, `full` and
    /// `summary` are its cached JSON; `run` holds the fields lists filter on, and its
    /// definition and propValues for re-runs (dropped like compact() drops them).
    /// `full` is kept compressed with `dictionary` (see compact()).
    static std::shared_ptr<RunRecord> restored(Run run,
                                               std::uint64_t seq,
                                               std::uint64_t org_seq,
                                               std::string full,
                                               std::string summary,
                                               std::string_view dictionary = {});

    const std::string& id() const { return id_; }
    const std::string& organization_id() const { return organization_id_; }
    /// Creation order across the store; newer runs have larger numbers.
    std::uint64_t seq() const { return seq_; }
    /// Creation order within the organization: 1 for its first run, counting only its own runs,
    /// so a list cursor built from it says nothing about other organizations.
    std::uint64_t org_seq() const { return org_seq_; }

    /// Reads the run under the lock.
    template <class F>
    auto read(F&& f) const {
        std::lock_guard lock(mu_);
        return std::forward<F>(f)(static_cast<const Run&>(run_));
    }

    /// A copy of the run. Of a compacted run, only its fields and its `workflow_definition` and
    /// `prop_values` (parsed again from where they lie in the cached text) are there, not its
    /// executionState.
    Run snapshot() const;

    RunStatus status() const {
        std::lock_guard lock(mu_);
        return run_.status;
    }

    /// Not terminal, or terminal with forks still kept (keepForksOnFailure): the store keeps it.
    bool in_progress() const;

    /// Changes a non-terminal run. Returns false, changing nothing, once the run is terminal.
    /// `f` may change the status to waiting or running only; use finish() for terminal states.
    bool update(const std::function<void(Run&)>& f);

    /// Adds `cost` to fork `fork_id`'s share of the run while it is not terminal. Once it is,
    /// the cost is the inspection of a kept fork (or its teardown): it goes to
    /// `inspection_cu`, never to totalCu.
    void charge_fork(const std::string& fork_id, std::uint64_t cost);

    /// update(), and after the run is terminal a change of its forks' states (a kept fork's
    /// release), publishing its fork events; `f` may not change the status. False once the
    /// run is compacted.
    bool update_forks(const std::function<void(Run&)>& f);

    /// The one way into a terminal status: exactly one caller ever gets true.
    /// `f` fills in the rest of the final state before the status becomes visible.
    bool finish(RunStatus terminal, const std::function<void(Run&)>& f);

    /// The cached serialized form, made by `serialize` (under the lock) when the run changed.
    std::shared_ptr<const std::string> serialized(
        RunView view,
        const std::function<std::string(const Run&)>& serialize) const;

    /// Once the run is terminal it never changes again: caches both views (made by `full` and
    /// `summary`), then frees the state only they needed (the definition, propValues and the
    /// executionState). The full view is kept compressed with `dictionary` (text like it, which
    /// must outlive the record) and expanded when read (PackedText), so a stored finished run
    /// costs less than its JSON. Idempotent.
    /// `cut`, when given, makes the summary and finds the request's places from the full text
    /// (cheaper than serializing the summary and the request again); where it cannot (nullopt),
    /// `summary` serializes the run.
    void compact(const std::function<std::string(const Run&)>& full,
                 const std::function<std::string(const Run&)>& summary,
                 std::string_view dictionary = {},
                 const std::function<std::optional<RunTextCut>(std::string_view full)>& cut = {});

    /// Registers a one-shot watcher of the next status change. Register first, then read the
    /// status: a change between the two is never missed.
    void add_watcher(std::weak_ptr<StatusWatcher> w);

    /// From now on every change publishes its events to `events`; the first `run` event now.
    void attach_events(std::shared_ptr<RunEvents> events);

    /// The run was read back from a durable store at start: this process holds none of its
    /// events (the store has them).
    bool read_back() const;

    /// A subscriber to the run's events after `from` (see EventStream::subscribe), woken on
    /// `ex`. Where events were dropped, the first is a `snapshot` whose data is the run as
    /// `full` writes it (the cached form when there is one). Null when no events are attached.
    std::shared_ptr<Subscription> subscribe_events(
        SubscribeFrom from,
        boost::asio::any_io_executor ex,
        const std::function<std::string(const Run&)>& full) const;

    /// From now on every update() and finish() tells `sink` (null: nobody).
    void set_change_sink(RunChangeSink* sink);

  private:
    void notify(std::vector<std::weak_ptr<StatusWatcher>>& watchers);
    /// After a change, outside the lock: the watchers of a new status, then the sink.
    void changed(std::vector<std::weak_ptr<StatusWatcher>>& watchers, RunChangeSink* sink);
    /// Under the lock, with the full text cached (not packed yet): frees the definition and
    /// propValues once their places in that text are known (request_cut_).
    void drop_request();
    /// Frees the definition and propValues, found at `cut` in the full text.
    void drop_request_at(const std::array<std::uint32_t, 4>& cut);
    /// The full view as cached or packed; null when neither (a live run not serialized yet).
    std::shared_ptr<const std::string> full_locked() const;
    void pack_full_locked(std::string_view dictionary);

    const std::string id_;
    const std::string organization_id_;
    const std::uint64_t seq_;
    const std::uint64_t org_seq_;
    mutable std::mutex mu_;
    Run run_;
    mutable std::array<std::shared_ptr<const std::string>, 2> cache_;
    // Of a compacted run: its full view, compressed (cache_'s slot is empty then).
    PackedText packed_full_;
    // Of a compacted run: its definition is full[a, a + n), its propValues full[b, b + m).
    std::optional<std::array<std::uint32_t, 4>> request_cut_;
    bool compacted_ = false;
    std::vector<std::weak_ptr<StatusWatcher>> watchers_;
    std::shared_ptr<RunEvents> events_;
    RunChangeSink* sink_ = nullptr;
};

}  // namespace forkrun::controller
