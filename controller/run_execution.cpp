// The run state machine. Everything here runs on the run's strand, so the phase decides alone
// which of a cancel and a completion ends the run.
#include "controller/run_execution.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "controller/node_executor.hpp"
#include "controller/templates.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

RunExecution::RunExecution(asio::any_io_executor ex,
                           std::shared_ptr<RunRecord> record,
                           RunPlan plan,
                           ChainProvider* chains,
                           const TransferSettings* transfers,
                           TransitionHook on_transition,
                           SizeLimits limits,
                           NonceAllocator* live_nonces)
    : strand_(asio::make_strand(ex)),
      record_(std::move(record)),
      transfers_(transfers),
      on_transition_(std::move(on_transition)),
      plan_(std::move(plan)),
      limits_(limits),
      wake_(strand_),
      done_(strand_),
      keep_timer_(strand_) {
    const std::size_t n = plan_.nodes.size();
    record_->read([&](const Run& r) {
        prop_values_ = r.prop_values;
        is_simulation_ = r.is_simulation;
        is_dust_test_ = r.is_dust_test;
        keep_forks_ = std::chrono::seconds(r.keep_forks_on_failure);
        status_ = r.status;
        // What the run takes before any node has run: its request and a state per node.
        constexpr std::size_t kNodeStateBytes = 160;
        stored_bytes_ = json_size(r.workflow_definition, limits_.run_json_bytes) +
                        json_size(r.prop_values, limits_.run_json_bytes) + n * kNodeStateBytes;
    });
    if (!is_simulation_ && live_nonces) {
        nonces_ = live_nonces;
    }
    for (std::size_t i = 0; i < n; ++i) {
        missing_parents_.push_back(plan_.nodes[i].parents.size());
    }
    if (chains) {
        chains_ = chains->open(record_, strand_);
    }
    node_status_.assign(n, NodeStatus::kPending);
    outputs_.resize(n);
    signals_.resize(n);
}

void RunExecution::start(std::function<void()> on_done,
                         StartSlot slot,
                         std::function<void()> on_kept) {
    on_done_ = std::move(on_done);
    on_kept_ = std::move(on_kept);
    start_slot_ = std::move(slot);
    asio::co_spawn(strand_, drive(), asio::detached);
}

asio::awaitable<void> RunExecution::drive() {
    auto self = shared_from_this();
    start_slot_.release();
    if (chains_) {
        provisioning_ = true;
        try {
            auto err = co_await asio::co_spawn(
                strand_, chains_->provision(),
                asio::bind_cancellation_slot(provision_signal_.slot(), asio::use_awaitable));
            if (err && phase_ == Phase::kActive && !failure_) {
                failure_ = std::move(err);
            }
        } catch (const std::exception& e) {
            if (phase_ == Phase::kActive && !failure_) {
                failure_ = RunError{RunErrc::kProvisioningFailed, e.what(), std::nullopt};
            }
        }
        provisioning_ = false;
    }
    if (phase_ == Phase::kActive && !failure_ && !plan_.nodes.empty()) {
        set_status(RunStatus::kRunning);
        ready_.push_back(0);  // root
        for (;;) {
            launch_ready();  // a node may finish inline and queue its children at once
            if (!ready_.empty()) {
                continue;
            }
            if (inflight_ == 0) {
                break;
            }
            co_await wake_.wait();
            wake_.reset();
        }
    }
    co_await finalize();
}

void RunExecution::launch_ready() {
    if (phase_ != Phase::kActive || failure_) {
        ready_.clear();
        return;
    }
    auto ready = std::move(ready_);
    ready_.clear();
    for (auto i : ready) {
        launch(i);
    }
}

void RunExecution::launch(std::size_t i) {
    node_status_[i] = NodeStatus::kRunning;
    ++inflight_;
    const auto now = Clock::now();
    record_->update([&](Run& r) {
        r.nodes[i].status = NodeStatus::kRunning;
        r.nodes[i].started_at = now;
    });
    signals_[i] = std::make_unique<asio::cancellation_signal>();
    asio::co_spawn(strand_, run_node(i),
                   asio::bind_cancellation_slot(
                       signals_[i]->slot(), [self = shared_from_this()](std::exception_ptr) {}));
    refresh_status();
}

asio::awaitable<void> RunExecution::run_node(std::size_t i) {
    auto self = shared_from_this();
    NodeStatus status = NodeStatus::kFailure;
    json::value output;
    std::optional<ErrorInfo> error;

    TemplateContext ctx;
    ctx.props = &prop_values_;
    ctx.node_output = [this](std::string_view id) -> const json::value* {
        const auto i = plan_.find(id);
        if (!i || node_status_[*i] != NodeStatus::kSuccess) {
            return nullptr;
        }
        return &outputs_[*i];
    };
    // Sizes are checked while resolving, so a big value referenced many times is never built.
    const std::size_t room = run_room();
    const bool node_bound = limits_.node_output_bytes <= room;
    ctx.max_string_bytes = limits_.template_string_bytes;
    ctx.max_total_bytes = std::max<std::size_t>(1, std::min(limits_.node_output_bytes, room));
    const PlanNode& node = plan_.nodes[i];
    auto resolved = resolve_templates_within(node.props, ctx);
    std::size_t props_bytes = 0;
    if (resolved) {
        props_bytes = json_size(*resolved, ctx.max_total_bytes);
        inflight_props_bytes_ += props_bytes;
    }
    if (node.type == NodeType::kBlock) {
        // A block node runs after its expansion's exit node, its only parent, and takes its output.
        status = NodeStatus::kSuccess;
        output = outputs_[node.parents.front()];
    } else if (!resolved && resolved.error().kind == TemplateFailure::Kind::kReference) {
        error = ErrorInfo{RunErrc::kTemplateError, resolved.error().message};
    } else if (!resolved) {
        std::string message = resolved.error().message;
        if (resolved.error().kind == TemplateFailure::Kind::kTooBig) {
            message = node_bound ? too_large("the resolved value of the node's props",
                                             limits_.node_output_bytes, kMaxNodeOutputBytes)
                                 : too_large("the run's stored JSON with this node's props",
                                             limits_.run_json_bytes, kMaxRunJsonBytes);
        }
        error = ErrorInfo{RunErrc::kTooLarge, std::move(message)};
    } else {
        NodeEnv env;
        env.node_index = i;
        env.is_simulation = is_simulation_;
        env.is_dust_test = is_dust_test_;
        env.chains = chains_.get();
        env.transfers = transfers_;
        env.nonces = nonces_;
        env.mark_waiting = [this, i] {
            if (node_status_[i] != NodeStatus::kRunning) {
                return;
            }
            node_status_[i] = NodeStatus::kWaiting;
            ++waiting_;
            record_->update([&](Run& r) { r.nodes[i].status = NodeStatus::kWaiting; });
            refresh_status();
        };
        try {
            // Decoded inside the try: a number too big for its field throws.
            auto props = decode_props(node.type, *resolved);
            NodeResult r = props.has_error() ? NodeResult(props.error()) : NodeResult();
            if (props) {
                r = co_await execute_node(node.type, *props, env);
            }
            if (r) {
                status = NodeStatus::kSuccess;
                output = std::move(*r);
            } else if (r.error().code == RunErrc::kCancelled && phase_ != Phase::kFinishing) {
                status = NodeStatus::kCancelled;  // a call of the node was cancelled
            } else {
                error = r.error();
                output = std::move(env.failed_output);
            }
        } catch (const boost::system::system_error& e) {
            if (e.code() == asio::error::operation_aborted && phase_ != Phase::kFinishing) {
                status = NodeStatus::kCancelled;
            } else {
                error = ErrorInfo{RunErrc::kInternalError, e.what()};
            }
        } catch (const std::exception& e) {
            error = ErrorInfo{RunErrc::kInternalError, e.what()};
        }
        if (status == NodeStatus::kCancelled && phase_ == Phase::kActive && failure_) {
            error =
                ErrorInfo{RunErrc::kInterrupted, "stopped because node \"" +
                                                     failure_->node_id.value_or("?") + "\" failed"};
        }
    }
    inflight_props_bytes_ -= props_bytes;
    if (status == NodeStatus::kFailure && !output.is_null()) {
        // A failed node's output (a reverted transaction's report) is kept only when it fits.
        const std::size_t size = json_size(output, limits_.node_output_bytes);
        if (size > limits_.node_output_bytes || size > run_room()) {
            output = nullptr;
        } else {
            stored_bytes_ += size;
        }
    } else if (status != NodeStatus::kSuccess) {
        output = nullptr;
    }
    if (status == NodeStatus::kSuccess) {
        // The output is kept in the run and sent with every read of it.
        const std::size_t size = json_size(output, limits_.node_output_bytes);
        if (size > limits_.node_output_bytes || size > run_room()) {
            status = NodeStatus::kFailure;
            error = ErrorInfo{
                RunErrc::kTooLarge,
                size > limits_.node_output_bytes
                    ? too_large("the node's output", limits_.node_output_bytes, kMaxNodeOutputBytes)
                    : too_large("the run's stored JSON with this node's output",
                                limits_.run_json_bytes, kMaxRunJsonBytes)};
            output = nullptr;
        } else {
            stored_bytes_ += size;
        }
    }
    on_node_done(i, status, std::move(output), std::move(error));
}

std::size_t RunExecution::run_room() const {
    const std::size_t used = stored_bytes_ + inflight_props_bytes_;
    return used >= limits_.run_json_bytes ? 0 : limits_.run_json_bytes - used;
}

void RunExecution::on_node_done(std::size_t i,
                                NodeStatus status,
                                json::value output,
                                std::optional<ErrorInfo> error) {
    --inflight_;
    if (node_status_[i] == NodeStatus::kWaiting) {
        --waiting_;
    }
    node_status_[i] = status;
    const auto now = Clock::now();
    record_->update([&](Run& r) {
        auto& n = r.nodes[i];
        n.status = status;
        n.finished_at = now;
        n.output = status == NodeStatus::kSuccess || status == NodeStatus::kFailure ? output
                                                                                    : json::value();
        n.error = error;
    });
    if (status == NodeStatus::kSuccess) {
        outputs_[i] = std::move(output);
        for (auto c : plan_.nodes[i].children) {
            if (--missing_parents_[c] == 0) {
                ready_.push_back(c);
            }
        }
    } else if (status == NodeStatus::kFailure && phase_ == Phase::kActive && !failure_) {
        // Fail fast: a failed node fails the run, so siblings still running are stopped.
        failure_ = RunError{error ? error->code : RunErrc::kNodeFailed,
                            "node \"" + plan_.nodes[i].id + "\" failed: " +
                                (error ? error->message : std::string("unknown error")),
                            plan_.nodes[i].id};
        interrupt_all();
    }
    refresh_status();
    wake_.set();
}

void RunExecution::interrupt_all() {
    if (provisioning_) {
        provision_signal_.emit(asio::cancellation_type::terminal);
    }
    for (std::size_t i = 0; i < node_status_.size(); ++i) {
        const auto st = node_status_[i];
        if ((st == NodeStatus::kRunning || st == NodeStatus::kWaiting) && signals_[i]) {
            signals_[i]->emit(asio::cancellation_type::terminal);
        }
    }
}

void RunExecution::refresh_status() {
    if (phase_ != Phase::kActive || inflight_ == 0) {
        return;
    }
    set_status(waiting_ == inflight_ ? RunStatus::kWaiting : RunStatus::kRunning);
}

void RunExecution::set_status(RunStatus to) {
    if (status_ == to) {
        return;
    }
    const auto from = status_;
    status_ = to;
    record_->update([&](Run& r) { r.status = to; });
    if (on_transition_) {
        on_transition_(*record_, from, to);
    }
}

asio::awaitable<bool> RunExecution::cancel(std::string requested_by,
                                           std::optional<std::string> reason) {
    auto self = shared_from_this();
    if (phase_ != Phase::kActive) {
        // Lost to the run's own end: whatever forks it keeps go too (a shutdown, or a cancel
        // that came as the run failed, must not wait out the keep).
        keep_ended_ = true;
        keep_timer_.cancel();
        co_await done_.wait();
        co_return false;
    }
    phase_ = Phase::kCancelling;
    cancellation_ =
        Cancellation{std::move(requested_by), Clock::now(), std::move(reason), std::nullopt, {}};
    interrupt_all();
    wake_.set();
    co_await done_.wait();
    co_return true;
}

asio::awaitable<bool> RunExecution::release_kept() {
    auto self = shared_from_this();
    const bool mine = phase_ == Phase::kKept && !keep_ended_;
    keep_ended_ = true;
    keep_timer_.cancel();
    if (phase_ == Phase::kKept || phase_ == Phase::kFinishing) {
        co_await done_.wait();
    }
    co_return mine;
}

asio::awaitable<void> RunExecution::finalize() {
    RunStatus outcome = RunStatus::kSuccess;
    if (phase_ == Phase::kCancelling) {
        outcome = RunStatus::kCancelled;
    } else {
        phase_ = Phase::kFinishing;
        outcome = failure_ ? RunStatus::kFailure : RunStatus::kSuccess;
    }
    std::vector<ForkTeardown> teardowns;
    bool kept = false;
    if (chains_) {
        // A cancel tears down at once; otherwise the report reads each fork first.
        const bool report = outcome != RunStatus::kCancelled && is_simulation_ && transfers_ &&
                            transfers_->simulation_report;
        if (outcome == RunStatus::kFailure && keep_forks_.count() > 0 && !keep_ended_) {
            kept = co_await chains_->keep(report, Clock::now() + keep_forks_);
        }
        if (!kept) {
            teardowns = co_await chains_->release(report);
        }
    }
    if (kept) {
        // Before the end is visible: whoever sees the run failed can release it, and finds its
        // place among the active runs already given back.
        phase_ = Phase::kKept;
        if (on_kept_) {
            on_kept_();
        }
    }
    const auto now = Clock::now();
    const NodeStatus never_ran =
        outcome == RunStatus::kCancelled ? NodeStatus::kCancelled : NodeStatus::kSkipped;
    record_->finish(outcome, [&](Run& r) {
        for (std::size_t i = 0; i < node_status_.size(); ++i) {
            if (node_status_[i] == NodeStatus::kPending) {
                r.nodes[i].status = never_ran;
            }
        }
        if (failure_) {
            r.error = failure_;
        }
        if (cancellation_) {
            cancellation_->completed_at = now;
            cancellation_->forks = std::move(teardowns);
            r.cancellation = std::move(cancellation_);
        }
        r.finished_at = now;
    });
    const auto from = status_;
    status_ = outcome;
    if (on_transition_) {
        on_transition_(*record_, from, outcome);
    }
    if (kept) {
        // Terminal, its totalCu final; the forks serve on until the deadline or a release.
        if (!keep_ended_) {
            keep_timer_.expires_after(keep_forks_);
            boost::system::error_code ec;
            co_await keep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_await chains_->release(false);
    }
    phase_ = Phase::kDone;
    done_.set();
    if (on_done_) {
        on_done_();
    }
}

}  // namespace forkrun::controller
