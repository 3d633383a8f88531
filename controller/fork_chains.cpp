// Provisioning in parallel, metered calls, and teardown bounded by the teardown timeout with a
// background reaper for what overruns it.
#include "controller/fork_chains.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "controller/run_ids.hpp"
#include "forks/rpc_policy.hpp"
#include "forks/upstream_redaction.hpp"

#include <numeric>

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// A node's result is kept in its run and sent with every read of it, so a JSON-RPC reply
// bigger than a node's output may be fails the node (saying so); the transport stops reading
// this far past that limit (the reply's envelope around the result).
constexpr std::size_t kReplyEnvelopeBytes = 4096;

// Runs make(i) for every i in `indexes` concurrently on `ex`; the results in the same order.
template <class Make>
auto all_in_parallel(const asio::any_io_executor& ex,
                     const std::vector<std::size_t>& indexes,
                     Make make)
    -> asio::awaitable<std::vector<typename decltype(make(std::size_t{}))::value_type>> {
    using Result = typename decltype(make(std::size_t{}))::value_type;
    using Op = decltype(asio::co_spawn(ex, make(std::size_t{}), asio::deferred));
    std::vector<Op> ops;
    for (auto i : indexes) {
        ops.push_back(asio::co_spawn(ex, make(i), asio::deferred));
    }
    if (ops.empty()) {
        co_return std::vector<Result>{};
    }
    auto [order, errors, results] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    (void)order;
    (void)errors;
    co_return std::move(results);
}

class ForkChains : public RunChains {
  public:
    ForkChains(forks::ForkManager& forks,
               RpcGateway& gateway,
               std::shared_ptr<RunRecord> record,
               asio::any_io_executor strand,
               std::size_t max_output_bytes,
               ControllerMetrics* metrics)
        : forks_(forks),
          gateway_(gateway),
          record_(std::move(record)),
          strand_(std::move(strand)),
          max_output_bytes_(max_output_bytes),
          metrics_(metrics) {
        record_->read([&](const Run& r) {
            chains_ = r.chains;
            simulation_ = r.is_simulation;
            pool_ = r.simulation_mode == SimulationMode::kPool;
        });
    }

    asio::awaitable<std::optional<RunError>> provision() override {
        if (!simulation_ || chains_.empty()) {
            co_return std::nullopt;
        }
        // Every fork is recorded (provisioning) before any starts, so a GET shows them all.
        for (auto chain : chains_) {
            Slot s;
            s.chain_id = chain;
            s.fork_id = "fork_" + random_token(12);
            slots_.push_back(std::move(s));
        }
        record_->update([&](Run& r) {
            for (const auto& s : slots_) {
                ForkInfo f;
                f.fork_id = s.fork_id;
                f.chain_id = s.chain_id;
                r.forks.push_back(std::move(f));
            }
        });
        std::vector<std::size_t> all(slots_.size());
        std::iota(all.begin(), all.end(), std::size_t{0});
        auto results = co_await all_in_parallel(strand_, all,
                                                [this](std::size_t i) { return provision_one(i); });
        for (auto& r : results) {
            if (r) {
                co_return r;
            }
        }
        co_return std::nullopt;
    }

    asio::awaitable<boost::system::result<json::value, ErrorInfo>> call(
        std::size_t node_index,
        std::uint64_t chain_id,
        std::string method,
        json::array params) override {
        // The same policy as the rpcUrl gateway; stricter for a live chain's shared upstream.
        json::value checked = std::move(params);
        const auto verdict = forks::classify_method(
            simulation_ ? forks::RpcTarget::kFork : forks::RpcTarget::kLive, method, &checked);
        params = std::move(checked.as_array());
        if (verdict.method_class == forks::MethodClass::kRefused) {
            co_return ErrorInfo{"method_refused",
                                "method " + method + " is refused: " + std::string(verdict.reason)};
        }
        std::string url;
        Slot* slot = nullptr;
        if (simulation_) {
            for (auto& s : slots_) {
                if (s.chain_id == chain_id && s.fork) {
                    url = s.fork->url;
                    slot = &s;
                }
            }
            if (slot && verdict.method_class == forks::MethodClass::kTainting) {
                slot->tainted = true;
            }
            if (url.empty()) {
                co_return ErrorInfo{"chain_not_forked",
                                    "chain " + std::to_string(chain_id) +
                                        " is not one of this simulation's forked chains"};
            }
        } else {
            auto up = forks_.upstream(chain_id);
            if (!up) {
                co_return ErrorInfo{"chain_not_configured", "chain " + std::to_string(chain_id) +
                                                                " has no configured upstream RPC"};
            }
            url = *up;
        }
        const auto cost = forks_.cu().cost(method);
        record_->update([&](Run& r) { r.nodes[node_index].cu += cost; });
        // A named request: GCC 12 destroys brace-initialized temporaries in co_await twice.
        forks::RpcRequest req{url,
                              method,
                              std::move(params),
                              forks_.config().rpc_timeout,
                              "chain " + std::to_string(chain_id),
                              max_output_bytes_ + kReplyEnvelopeBytes};
        auto res = co_await forks::async_call(forks_.rpc(), std::move(req), asio::use_awaitable);
        if (!res) {
            if (res.error().code == forks::RpcErrc::kAborted) {
                // Aborting our side does not stop anvil: a write may still land after the
                // revert, so the lease cannot be reused.
                if (slot && forks::changes_state(method)) {
                    slot->tainted = true;
                }
                throw boost::system::system_error(asio::error::operation_aborted);
            }
            if (res.error().too_large) {
                co_return ErrorInfo{
                    kTooLargeCode,
                    too_large("chain " + std::to_string(chain_id) + ": the " + method + " reply",
                              max_output_bytes_, kMaxNodeOutputBytes)};
            }
            co_return ErrorInfo{
                res.error().code == forks::RpcErrc::kRpcError ? "rpc_error" : "rpc_failed",
                forks::redact_upstreams(res.error().message, forks_.config())};
        }
        co_return std::move(*res);
    }

    asio::awaitable<std::vector<ForkTeardown>> release() override {
        std::vector<std::size_t> up;
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (slots_[i].fork) {
                up.push_back(i);
            }
        }
        auto out =
            co_await all_in_parallel(strand_, up, [this](std::size_t i) { return release_one(i); });
        co_return out;
    }

  private:
    struct Slot {
        std::uint64_t chain_id = 0;
        std::string fork_id;
        std::string rpc_url;
        std::shared_ptr<forks::ForkHandle> fork;
        bool tainted = false;  ///< An rpc node changed a node setting evm_revert does not undo.
    };

    forks::MethodMeter fork_meter(const std::string& fork_id) {
        return [rec = record_, fork_id, &cu = forks_.cu()](std::string_view method) {
            const auto cost = cu.cost(method);
            if (cost == 0) {
                return;
            }
            rec->update([&](Run& r) {
                if (auto* f = r.find_fork(fork_id)) {
                    f->cu += cost;
                }
            });
        };
    }

    asio::awaitable<std::optional<RunError>> provision_one(std::size_t i) {
        auto& s = slots_[i];
        auto meter = fork_meter(s.fork_id);
        const auto asked = std::chrono::steady_clock::now();
        // Not a conditional expression: GCC 12 miscompiles co_await inside one.
        boost::system::result<forks::ForkHandle, std::string> opened{std::string()};
        if (pool_) {
            opened = co_await forks_.lease_fork(s.chain_id, meter);
        } else {
            opened = co_await forks_.open_fork(s.chain_id, meter);
        }
        if (!opened) {
            record_->update([&](Run& r) {
                if (auto* f = r.find_fork(s.fork_id)) {
                    f->state = ForkState::kFailed;
                    f->error = forks::redact_upstreams(opened.error(), forks_.config());
                }
            });
            co_return RunError{"provisioning_failed",
                               forks::redact_upstreams(opened.error(), forks_.config()),
                               std::nullopt};
        }
        s.fork = std::make_shared<forks::ForkHandle>(std::move(*opened));
        s.rpc_url = gateway_.open(record_, s.fork_id, s.chain_id, s.fork->url,
                                  forks_.upstream(s.chain_id).value_or(""));
        record_->update([&](Run& r) {
            if (auto* f = r.find_fork(s.fork_id)) {
                f->state = ForkState::kReady;
                f->rpc_url = s.rpc_url;
            }
        });
        if (metrics_) {
            metrics_->fork_provision_seconds.observe(std::chrono::steady_clock::now() - asked);
            (pool_ ? metrics_->forks_live_pool : metrics_->forks_live_fork)++;
        }
        co_return std::nullopt;
    }

    // Shared between a teardown and whoever waits for it, so the waiter may give up at the
    // timeout while the teardown goes on in the background (the reaper).
    struct Teardown {
        explicit Teardown(const asio::any_io_executor& ex) : timer(ex) {}
        asio::steady_timer timer;
        std::optional<forks::ForkRelease> result;
    };

    asio::awaitable<ForkTeardown> release_one(std::size_t i) {
        auto& s = slots_[i];
        const auto started = std::chrono::steady_clock::now();
        // The rpcUrl refuses service from here on. A pooled fork is reverted only once every
        // call already forwarded has landed, and never after a call the revert cannot undo.
        bool reusable = true;
        if (pool_) {
            const auto closed =
                co_await gateway_.close_and_drain(s.rpc_url, forks_.config().teardown_timeout / 2);
            reusable = closed.drained && !closed.tainted && !s.tainted;
        } else {
            gateway_.close(s.rpc_url);
        }
        auto td = std::make_shared<Teardown>(strand_);
        auto fork = s.fork;
        auto meter = fork_meter(s.fork_id);
        asio::co_spawn(
            strand_,
            [](forks::ForkManager& forks, std::shared_ptr<forks::ForkHandle> fork,
               forks::MethodMeter meter, bool reusable,
               std::shared_ptr<Teardown> td) -> asio::awaitable<void> {
                auto r = co_await forks.release(fork, std::move(meter), reusable);
                if (!r.ok && fork->process) {
                    fork->process->kill_now();  // the reaper's last word: nothing survives
                }
                td->result = std::move(r);
                td->timer.cancel();
            }(forks_, fork, meter, reusable, td),
            asio::detached);
        td->timer.expires_after(forks_.config().teardown_timeout);
        while (!td->result &&
               std::chrono::steady_clock::now() - started < forks_.config().teardown_timeout) {
            boost::system::error_code ec;
            co_await td->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        ForkTeardown out;
        out.fork_id = s.fork_id;
        out.chain_id = s.chain_id;
        out.ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count();
        if (td->result) {
            out.ok = td->result->ok;
            out.method = td->result->method;
            if (!td->result->error.empty()) {
                out.error = forks::redact_upstreams(td->result->error, forks_.config());
            }
        } else {
            out.ok = false;
            out.method = pool_ ? "evm_revert" : "SIGTERM";
            out.error = "teardown did not finish within " +
                        std::to_string(forks_.config().teardown_timeout.count()) +
                        " ms; handed to the background reaper";
        }
        record_->update([&](Run& r) {
            if (auto* f = r.find_fork(s.fork_id)) {
                f->state = out.ok ? ForkState::kReleased : ForkState::kFailed;
                f->error = out.error;
            }
        });
        if (metrics_) {
            (pool_ ? metrics_->forks_live_pool : metrics_->forks_live_fork)--;
        }
        co_return out;
    }

    forks::ForkManager& forks_;
    RpcGateway& gateway_;
    std::shared_ptr<RunRecord> record_;
    asio::any_io_executor strand_;
    std::vector<std::uint64_t> chains_;
    bool simulation_ = false;
    bool pool_ = false;
    std::vector<Slot> slots_;
    std::size_t max_output_bytes_;
    ControllerMetrics* metrics_;
};

// The pools of a run's unconfigured chains, held from its creation until it is done.
class PoolChainHold : public ChainHold {
  public:
    explicit PoolChainHold(forks::PoolHold hold) : hold_(std::move(hold)) {}

  private:
    forks::PoolHold hold_;
};

}  // namespace

ForkChainProvider::ForkChainProvider(forks::ForkManager& forks,
                                     RpcGateway& gateway,
                                     std::size_t max_output_bytes)
    : forks_(forks), gateway_(gateway), max_output_bytes_(max_output_bytes) {}

std::unique_ptr<RunChains> ForkChainProvider::open(std::shared_ptr<RunRecord> record,
                                                   asio::any_io_executor strand) {
    return std::make_unique<ForkChains>(forks_, gateway_, std::move(record), std::move(strand),
                                        max_output_bytes_, metrics_);
}

boost::system::result<std::unique_ptr<ChainHold>, QuotaRefusal> ForkChainProvider::hold(
    const Run& run) {
    if (!run.is_simulation || run.simulation_mode != SimulationMode::kPool) {
        return std::unique_ptr<ChainHold>();
    }
    auto held = forks_.hold_pools(run.chains);
    if (!held) {
        // Room comes back as idle pools are reaped.
        const auto idle =
            std::chrono::ceil<std::chrono::seconds>(forks_.config().unconfigured_pool_idle);
        return QuotaRefusal{held.error().message, std::max(idle, std::chrono::seconds(1)),
                            held.error().permanent};
    }
    return std::unique_ptr<ChainHold>(std::make_unique<PoolChainHold>(std::move(*held)));
}

}  // namespace forkrun::controller
