// Drives one run: provisioning, the node graph, and the single transition to a terminal status.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/limits.hpp"
#include "controller/node_types.hpp"
#include "controller/nonce_book.hpp"
#include "controller/run_chains.hpp"
#include "controller/run_plan.hpp"
#include "controller/run_record.hpp"
#include "controller/transfer_node.hpp"
#include "util/async_flag.hpp"
#include "util/limiter.hpp"

namespace forkrun::controller {

/// A place in the start backlog (Controller::reserve_start), held until the run's execution
/// begins. The backlog is bounded by the project's FIFO limiter, the one that caps anvil spawns.
using StartSlot = util::Permit;

/// Called after each run status change (for the transition log).
using TransitionHook = std::function<void(const RunRecord&, RunStatus from, RunStatus to)>;

class RunExecution : public std::enable_shared_from_this<RunExecution> {
  public:
    /// `plan` is the run's compiled plan, in the order of `Run::nodes`. A live run takes its nonces
    /// from `live_nonces` (shared by every run); a simulation, or a live run without one, keeps a
    /// book of its own.
    RunExecution(boost::asio::any_io_executor ex,
                 std::shared_ptr<RunRecord> record,
                 RunPlan plan,
                 ChainProvider* chains,
                 const TransferSettings* transfers,
                 TransitionHook on_transition,
                 SizeLimits limits = {},
                 NonceAllocator* live_nonces = nullptr);

    const boost::asio::strand<boost::asio::any_io_executor>& strand() const { return strand_; }
    const std::shared_ptr<RunRecord>& record() const { return record_; }

    /// Starts the run in the background; `on_done` runs on the strand once it is terminal and
    /// its forks are released. `slot` is given back once the execution has begun on its strand.
    /// `on_kept`, when given, runs on the strand when the run has become terminal with its
    /// forks kept (keepForksOnFailure); `on_done` follows once they are released.
    void start(std::function<void()> on_done,
               StartSlot slot = {},
               std::function<void()> on_kept = {});

    /// Must run on the strand. Cancels the run and completes once it is terminal: true when
    /// this call made it `cancelled`, false when something else ended it first.
    boost::asio::awaitable<bool> cancel(std::string requested_by,
                                        std::optional<std::string> reason);

    /// Must run on the strand. Ends the keeping of a failed run's forks now and completes once
    /// they are torn down: true when this call ended it, false when the run keeps no forks (or
    /// another call is ending it). A run that is still finishing keeps nothing after this.
    boost::asio::awaitable<bool> release_kept();

  private:
    enum class Phase { kActive, kCancelling, kFinishing, kKept, kDone };

    boost::asio::awaitable<void> drive();
    boost::asio::awaitable<void> run_node(std::size_t i);
    void launch_ready();
    void launch(std::size_t i);
    void on_node_done(std::size_t i,
                      NodeStatus status,
                      boost::json::value output,
                      std::optional<ErrorInfo> error);
    void interrupt_all();
    /// Bytes the run's stored JSON may still grow by (resolved props in flight included).
    std::size_t run_room() const;
    void refresh_status();
    void set_status(RunStatus to);
    boost::asio::awaitable<void> finalize();

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    std::shared_ptr<RunRecord> record_;
    std::unique_ptr<RunChains> chains_;
    const TransferSettings* transfers_;
    NonceBook own_nonces_{false};
    NonceAllocator* nonces_ = &own_nonces_;
    TransitionHook on_transition_;
    std::function<void()> on_done_;
    std::function<void()> on_kept_;
    StartSlot start_slot_;

    // Immutable after construction.
    RunPlan plan_;
    boost::json::object prop_values_;
    bool is_simulation_ = false;
    bool is_dust_test_ = false;
    std::chrono::seconds keep_forks_{0};  // keepForksOnFailure
    SizeLimits limits_;

    // Strand-owned execution state.
    Phase phase_ = Phase::kActive;
    RunStatus status_ = RunStatus::kWaiting;
    std::vector<std::size_t> missing_parents_;
    std::vector<NodeStatus> node_status_;
    std::vector<boost::json::value> outputs_;
    std::size_t stored_bytes_ = 0;          // the run's JSON as created, plus node outputs
    std::size_t inflight_props_bytes_ = 0;  // resolved props of nodes in flight
    std::vector<std::unique_ptr<boost::asio::cancellation_signal>> signals_;
    std::size_t inflight_ = 0;
    std::size_t waiting_ = 0;  // in-flight nodes that are `waiting`
    std::vector<std::size_t> ready_;
    std::optional<RunError> failure_;
    std::optional<Cancellation> cancellation_;
    boost::asio::cancellation_signal provision_signal_;
    bool provisioning_ = false;
    bool keep_ended_ = false;  // release_kept() or a shutdown asked for it
    util::AsyncFlag wake_;
    util::AsyncFlag done_;
    boost::asio::steady_timer keep_timer_;  // the kept forks' deadline
};

}  // namespace forkrun::controller
