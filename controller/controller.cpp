// Controller: creates runs and their executions, routes cancels to the right strand.
#include "controller/controller.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "controller/run_ids.hpp"
#include "controller/run_request.hpp"
#include "util/event_log.hpp"
#include "util/log_line.hpp"
#include "util/timestamp.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

Controller::Controller(ControllerConfig config, asio::any_io_executor exec)
    : config_(std::move(config)),
      exec_(std::move(exec)),
      events_(exec_),
      store_(config_.retain_runs),
      start_gate_(config_.start_backlog),
      quotas_(config_.limits) {
    if (auto* durable = config_.durable) {
        // Every run event is stored with the run, for the other members' streams.
        events_.set_sink([durable](const std::string& run_id, const Event& e) {
            durable->append_event(run_id, e.id, e.type, e.data);
        });
    }
}

Controller::~Controller() = default;

RunRequestContext Controller::request_context(const Principal& who) const {
    RunRequestContext ctx;
    ctx.organization_id = who.organization_id;
    ctx.subject = who.subject;
    ctx.enabled_types = config_.enabled_types;
    ctx.max_nodes = config_.max_nodes;
    ctx.store = &store_;
    ctx.signers = config_.transfers ? config_.transfers->signers : nullptr;
    ctx.blocks = config_.blocks;
    ctx.has_upstream = config_.has_upstream;
    ctx.max_chains = config_.limits.chains_per_run;
    return ctx;
}

FieldErrors Controller::request_problems(const Principal& who, const json::value& body) const {
    auto decoded = decode_run_request(body, request_context(who));
    return decoded ? FieldErrors{} : std::move(decoded.error());
}

boost::system::result<std::shared_ptr<RunRecord>, CreateRefusal> Controller::create_run(
    const Principal& who,
    const json::value& body,
    StartSlot slot,
    asio::any_io_executor here) {
    auto decoded = decode_run_request(body, request_context(who));
    if (!decoded) {
        return std::move(decoded.error());
    }
    Run run = std::move(decoded->run);
    // Quotas last, once the request is valid. Forks are counted from the chains here, not when
    // they come up, so a burst of creates cannot race past the limit.
    auto refused = [](QuotaRefusal q) -> CreateRefusal {
        if (q.permanent) {
            return FieldErrors{{"/chains", std::move(q.message)}};
        }
        return q;
    };
    auto ticket = quotas_.reserve(run.organization_id, run.is_simulation ? run.chains.size() : 0);
    if (!ticket) {
        return refused(std::move(ticket.error()));
    }
    std::unique_ptr<ChainHold> hold;
    if (config_.chains) {
        auto held = config_.chains->hold(run);
        if (!held) {
            return refused(std::move(held.error()));
        }
        hold = std::move(*held);
    }
    // A small run that needs no chain runs where it was created (a single-threaded HTTP
    // context) instead of paying two thread hops; a big one stays on the execution thread, so
    // it cannot hold up the requests of that context.
    constexpr std::size_t kMaxLocalNodes = 64;
    const bool local = here && !run.is_simulation && decoded->plan.touches_no_chain(kMaxLocalNodes);
    run.id = new_run_id();
    run.status = RunStatus::kWaiting;
    run.started_at = Clock::now();
    auto record = config_.durable ? store_.make(std::move(run)) : store_.insert(std::move(run));

    auto exec = std::make_shared<RunExecution>(
        local ? here : exec_, record, std::move(decoded->plan), local ? nullptr : config_.chains,
        config_.transfers,
        [this](const RunRecord& rec, RunStatus from, RunStatus to) {
            log_transition(rec, from, to);
        },
        config_.limits.sizes, config_.nonces ? config_.nonces : &live_nonces_);
    // Held by the completion (a std::function must be copyable), given back there.
    auto held = std::make_shared<RunHold>(RunHold{std::move(*ticket), std::move(hold)});
    if (config_.durable) {
        std::lock_guard lock(active_mu_);
        uncommitted_.emplace(record->id(), Uncommitted{exec, std::move(held), std::move(slot)});
        return record;
    }
    begin(exec, std::move(held), std::move(slot));
    return record;
}

void Controller::begin(const std::shared_ptr<RunExecution>& exec,
                       std::shared_ptr<RunHold> held,
                       StartSlot slot) {
    const auto& record = exec->record();
    {
        std::lock_guard lock(active_mu_);
        active_.emplace(record->id(), exec);
    }
    log_transition(*record, RunStatus::kWaiting, RunStatus::kWaiting);
    if (config_.metrics) {
        ++config_.metrics->runs_created;
    }
    record->attach_events(record->read([&](const Run& r) { return events_.open(r); }));
    if (config_.durable) {
        record->set_change_sink(config_.durable);
    }
    exec->start(
        [this, record, held] {
            held->hold.reset();  // the run's forks are released by now
            held->ticket.release();
            if (config_.durable) {
                config_.durable->finish(record, {});
            }
            if (config_.on_finished) {
                config_.on_finished(record);
            }
            std::lock_guard lock(active_mu_);
            active_.erase(record->id());
            kept_.erase(record->id());
        },
        std::move(slot),
        [this, record, held] {
            // Terminal, no longer an active run; its kept forks still count as live forks.
            held->ticket.release_run();
            std::lock_guard lock(active_mu_);
            auto it = active_.find(record->id());
            if (it != active_.end()) {
                kept_.emplace(record->id(), std::move(it->second));
                active_.erase(it);
            }
        });
}

asio::awaitable<StartSlot> Controller::reserve_start() {
    co_return co_await start_gate_.acquire();
}

std::shared_ptr<RunRecord> Controller::find(const Principal& who, std::string_view run_id) const {
    if (!is_run_id(run_id)) {
        return nullptr;
    }
    return store_.find(who.organization_id, run_id);
}

ListPage Controller::list(const Principal& who, const ListQuery& q) const {
    return store_.list(who.organization_id, q);
}

std::shared_ptr<RunExecution> Controller::execution(std::string_view run_id) const {
    std::lock_guard lock(active_mu_);
    auto it = active_.find(std::string(run_id));
    return it == active_.end() ? nullptr : it->second;
}

asio::awaitable<ReleaseResult> Controller::release(const Principal& who, std::string run_id) {
    auto record = find(who, run_id);
    if (!record) {
        co_return ReleaseResult{ReleaseOutcome::kNotFound, nullptr};
    }
    std::shared_ptr<RunExecution> exec;
    {
        std::lock_guard lock(active_mu_);
        auto it = kept_.find(run_id);
        exec = it == kept_.end() ? nullptr : it->second;
    }
    if (!exec) {
        co_return ReleaseResult{ReleaseOutcome::kNotKept, record};
    }
    const bool released =
        co_await asio::co_spawn(exec->strand(), exec->release_kept(), asio::use_awaitable);
    co_return ReleaseResult{released ? ReleaseOutcome::kReleased : ReleaseOutcome::kNotKept,
                            record};
}

std::shared_ptr<EventStream> Controller::organization_events(const Principal& who) {
    return events_.organization(who.organization_id);
}

std::size_t Controller::active_runs() const {
    std::lock_guard lock(active_mu_);
    return active_.size();
}

asio::awaitable<CancelResult> Controller::cancel(const Principal& who,
                                                 std::string run_id,
                                                 std::optional<std::string> reason) {
    auto record = find(who, run_id);
    if (!record) {
        co_return CancelResult{CancelOutcome::kNotFound, nullptr};
    }
    auto exec = execution(run_id);
    if (!exec || is_terminal(record->status())) {
        co_return CancelResult{CancelOutcome::kAlreadyTerminal, record};
    }
    const auto asked = std::chrono::steady_clock::now();
    const bool won = co_await asio::co_spawn(
        exec->strand(), exec->cancel(who.subject, std::move(reason)), asio::use_awaitable);
    if (config_.durable && won) {
        // The final state is committed before the cancel answers.
        boost::system::error_code ec;
        co_await config_.durable->async_finish(record,
                                               asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return CancelResult{CancelOutcome::kNotStored, record};
        }
    }
    if (config_.metrics && won) {
        config_.metrics->cancel_seconds.observe(std::chrono::steady_clock::now() - asked);
    }
    co_return CancelResult{won ? CancelOutcome::kCancelled : CancelOutcome::kAlreadyTerminal,
                           record};
}

asio::awaitable<void> Controller::shutdown() {
    start_gate_.close();
    std::vector<std::shared_ptr<RunExecution>> all;
    {
        std::lock_guard lock(active_mu_);
        for (auto& [id, e] : active_) {
            all.push_back(e);
        }
        for (auto& [id, e] : kept_) {
            all.push_back(e);
        }
    }
    if (all.empty()) {
        co_return;
    }
    // A kept run's cancel loses to its failure and tears its kept forks down.
    using Op = decltype(asio::co_spawn(all[0]->strand(), all[0]->cancel("", std::nullopt),
                                       asio::deferred));
    std::vector<Op> ops;
    for (auto& e : all) {
        ops.push_back(asio::co_spawn(e->strand(), e->cancel("forkrun", std::string("shutdown")),
                                     asio::deferred));
    }
    co_await asio::experimental::make_parallel_group(std::move(ops))
        .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

void Controller::log_transition(const RunRecord& rec, RunStatus from, RunStatus to) const {
    if (config_.metrics && from != to && is_terminal(to)) {
        auto& m = *config_.metrics;
        (to == RunStatus::kSuccess   ? m.runs_success
         : to == RunStatus::kFailure ? m.runs_failure
                                     : m.runs_cancelled)++;
        m.cu_total += rec.read([](const Run& r) { return r.total_cu(); });
    }
    util::LogLine line(from == to ? "run.created" : "run.transition", 192);
    line.str("runId", rec.id()).str("organizationId", rec.organization_id());
    if (from != to) {
        line.str("from", to_string(from));
    }
    line.str("to", to_string(to));
    util::write_log_line(config_.log, std::move(line).finish());
}

}  // namespace forkrun::controller
