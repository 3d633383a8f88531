// The controller's face to the wire: create, find, list and cancel runs, and stop them all.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "controller/block_library.hpp"
#include "controller/durable_store.hpp"
#include "controller/field_error.hpp"
#include "controller/idempotency_keys.hpp"
#include "controller/limits.hpp"
#include "controller/metrics.hpp"
#include "controller/node_types.hpp"
#include "controller/nonce_book.hpp"
#include "controller/quotas.hpp"
#include "controller/run_chains.hpp"
#include "controller/run_events.hpp"
#include "controller/run_execution.hpp"
#include "controller/run_request.hpp"
#include "controller/run_store.hpp"
#include "controller/transfer_node.hpp"
#include "util/event_log.hpp"

namespace forkrun::controller {

/// Who is asking: what a bearer token maps to.
struct Principal {
    std::string organization_id;
    std::string subject;
};

struct ControllerConfig {
    NodeTypeSet enabled_types{NodeType::kManual, NodeType::kWait, NodeType::kAssert};
    std::size_t max_nodes = 10000;
    /// Runs kept in memory; past it the oldest terminal runs are dropped (0: keep all).
    std::size_t retain_runs = RunStore::kDefaultRetain;
    /// Makes each run's chains; null when this build runs no chain nodes.
    ChainProvider* chains = nullptr;
    /// Signers, dust cap and receipt timeout of value-moving nodes.
    const TransferSettings* transfers = nullptr;
    /// Called once a run is terminal and its execution is done (on the run's strand): main
    /// has the record compacted with the wire layer's serializers, off that thread.
    std::function<void(const std::shared_ptr<RunRecord>&)> on_finished;
    /// The block library for `block` nodes; null: none.
    const BlockLibrary* blocks = nullptr;
    /// Whether a live run can reach a chain (it has a configured upstream).
    std::function<bool(std::uint64_t)> has_upstream;
    /// Runs created but not yet begun on the execution thread; reserve_start() waits past it.
    std::size_t start_backlog = kDefaultStartBacklog;
    static constexpr std::size_t kDefaultStartBacklog = 64;
    /// Where run transitions are logged; null: straight to stderr.
    util::EventLog* log = nullptr;
    /// Where runs, finishes, CU and cancels are counted; null: nowhere.
    ControllerMetrics* metrics = nullptr;
    /// Quotas, chains per run and sizes (the unconfigured-chain allowance is the forks').
    Limits limits;
    /// Nonces of live runs, per (signer, chain) across every run; null: the controller's own
    /// in-memory book.
    NonceAllocator* nonces = nullptr;
    /// The per-organization quotas across the controllers sharing the durable store, taken at
    /// commit_created(); null: this controller's own counts only.
    SharedQuotas* shared_quotas = nullptr;
    /// Idempotency keys of creates; null: the controller's own in-memory table.
    IdempotencyKeys* idempotency_keys = nullptr;
    /// The wire layer's JSON in run events.
    /// Where runs are written to outlive the process (--store postgresql://...); null: memory
    /// only. Then create_run leaves the run unstarted until commit_created().
    DurableStore* durable = nullptr;
};

/// A terminal run read back from a durable store (see Controller::restore).
struct RestoredRun {
    Run run;  // the fields lists filter on
    std::uint64_t org_seq = 0;
    std::string full;
    std::string summary;
};

/// Why create_run made no run: the request's problems (a 400), or a quota in the way (a 429).
struct CreateRefusal {
    FieldErrors errors;
    std::optional<QuotaRefusal> quota;

    CreateRefusal() = default;
    CreateRefusal(FieldErrors e) : errors(std::move(e)) {}  // NOLINT: implicit, like the errors
    CreateRefusal(QuotaRefusal q) : quota(std::move(q)) {}  // NOLINT
};

/// What commit_created() made of a created run: stored and started, or dropped because the store
/// could not take it (`ec`) or a quota counted across the controllers is in the way (`quota`).
struct CommitResult {
    boost::system::error_code ec;
    std::optional<QuotaRefusal> quota;
    bool committed() const { return !ec && !quota; }
};

enum class CancelOutcome {
    kCancelled,
    kAlreadyTerminal,
    kNotFound,
    /// Cancelled, but the durable store did not commit it in time (it keeps trying).
    kNotStored,
};

struct CancelResult {
    CancelOutcome outcome;
    std::shared_ptr<RunRecord> record;
};

enum class ReleaseOutcome { kReleased, kNotKept, kNotFound };

struct ReleaseResult {
    ReleaseOutcome outcome;
    std::shared_ptr<RunRecord> record;
};

class Controller {
  public:
    /// Runs execute on `exec` (their own strands); nothing here blocks the caller's thread.
    Controller(ControllerConfig config, boost::asio::any_io_executor exec);
    ~Controller();

    /// Waits, in FIFO order, until fewer than `start_backlog` created runs wait to begin, and
    /// holds a place for the caller's run. Empty once shutdown() has begun.
    boost::asio::awaitable<StartSlot> reserve_start();

    /// Validates and starts a run from a POST /v1/runs body; every problem is reported. A valid
    /// run over a quota (Limits) is refused with the limit in the way; its place in the quotas
    /// is held until the run is done and its forks are released.
    /// `slot` (from reserve_start) is given back once the run has begun, or at once on failure.
    /// `here`: the caller's executor. A small live run that touches no chain (manual, assert
    /// and time waits only) executes there, on a strand of its own; every other run on the
    /// execution executor, where the forks live.
    boost::system::result<std::shared_ptr<RunRecord>, CreateRefusal> create_run(
        const Principal& who,
        const boost::json::value& body,
        StartSlot slot = {},
        boost::asio::any_io_executor here = {});

    /// Every problem of a POST /v1/runs body, without creating anything (empty: it is valid).
    FieldErrors request_problems(const Principal& who, const boost::json::value& body) const;

    /// Which run each idempotency key created.
    IdempotencyKeys& idempotency_keys() {
        return config_.idempotency_keys ? *config_.idempotency_keys : own_keys_;
    }

    /// With a durable store: takes the run's place in the quotas shared by the controllers (if
    /// any), commits the run create_run made, then stores and starts it; on an error (the store
    /// unavailable) or a refusal the run is dropped and its quota given back.
    boost::asio::awaitable<CommitResult> commit_created(std::shared_ptr<RunRecord> record);
    bool durable() const { return config_.durable != nullptr; }

    /// Before serving: the runs a durable store holds (oldest first, all terminal), and each
    /// organization's last sequence number; new runs are numbered `slot` modulo `stride`.
    void restore(std::vector<RestoredRun> runs,
                 const std::vector<std::pair<std::string, std::uint64_t>>& org_last_seq,
                 std::uint64_t stride = 1,
                 std::uint64_t slot = 0);

    std::shared_ptr<RunRecord> find(const Principal& who, std::string_view run_id) const;
    ListPage list(const Principal& who, const ListQuery& q) const;

    /// Cancels the run, answering once it is terminal and its forks are torn down.
    boost::asio::awaitable<CancelResult> cancel(const Principal& who,
                                                std::string run_id,
                                                std::optional<std::string> reason);

    /// Tears down the kept forks of a failed run now (keepForksOnFailure), answering once they
    /// are gone; kNotKept when the run keeps none (or another release is tearing them down).
    boost::asio::awaitable<ReleaseResult> release(const Principal& who, std::string run_id);

    /// Refuses new runs, cancels every run that is not terminal (reason `shutdown`), releases
    /// every kept fork and waits for them all.
    boost::asio::awaitable<void> shutdown();

    /// The stream of `run` and `end` events of the caller's organization.
    std::shared_ptr<EventStream> organization_events(const Principal& who);

    std::size_t active_runs() const;
    const Quotas& quotas() const { return quotas_; }

  private:
    RunRequestContext request_context(const Principal& who) const;
    // What a created run holds until it is done, given back by its completion.
    struct RunHold {
        Quotas::Ticket ticket;
        std::unique_ptr<ChainHold> hold;
    };
    // A created run waiting for its commit (durable store only).
    struct Uncommitted {
        std::shared_ptr<RunExecution> exec;
        std::shared_ptr<RunHold> held;
        StartSlot slot;
    };
    // Starts a created (and, with a durable store, committed) run.
    void begin(const std::shared_ptr<RunExecution>& exec,
               std::shared_ptr<RunHold> held,
               StartSlot slot);
    std::shared_ptr<RunExecution> execution(std::string_view run_id) const;
    void log_transition(const RunRecord& rec, RunStatus from, RunStatus to) const;

    ControllerConfig config_;
    boost::asio::any_io_executor exec_;
    EventBus events_;  // outlives the records, which publish to it
    RunStore store_;
    util::Limiter start_gate_;
    Quotas quotas_;
    NonceBook live_nonces_{true};     // when the configuration names no allocator
    MemoryIdempotencyKeys own_keys_;  // when the configuration names no table
    mutable std::mutex active_mu_;
    std::unordered_map<std::string, std::shared_ptr<RunExecution>> active_;
    // Failed runs whose forks are kept: terminal, not active, until the forks are released.
    std::unordered_map<std::string, std::shared_ptr<RunExecution>> kept_;
    std::unordered_map<std::string, Uncommitted> uncommitted_;  // under active_mu_
};

}  // namespace forkrun::controller
