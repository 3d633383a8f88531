// Provisioning in parallel and metered calls (teardown: fork_chains_release.cpp).
#include "controller/fork_chains.hpp"

#include <boost/asio/use_awaitable.hpp>

#include "controller/fork_chains_internal.hpp"
#include "controller/parallel.hpp"
#include "controller/run_ids.hpp"
#include "forks/eth/hex.hpp"
#include "forks/rpc_policy.hpp"
#include "forks/upstream_redaction.hpp"

#include <numeric>

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

namespace detail {

ForkChains::ForkChains(forks::ForkManager& forks,
                       RpcGateway& gateway,
                       std::shared_ptr<RunRecord> record,
                       asio::any_io_executor strand,
                       std::size_t max_output_bytes,
                       ControllerMetrics* metrics,
                       bool report)
    : forks_(forks),
      gateway_(gateway),
      record_(std::move(record)),
      strand_(std::move(strand)),
      max_output_bytes_(max_output_bytes),
      metrics_(metrics),
      report_(report) {
    record_->read([&](const Run& r) {
        chains_ = r.chains;
        pins_ = r.fork_block_numbers;
        simulation_ = r.is_simulation;
        pool_ = r.simulation_mode == SimulationMode::kPool;
    });
}

asio::awaitable<std::optional<RunError>> ForkChains::provision() {
    if (!simulation_ || chains_.empty()) {
        co_return std::nullopt;
    }
    // Every fork is recorded (provisioning) before any starts, so a GET shows them all.
    for (auto chain : chains_) {
        Slot s;
        s.chain_id = chain;
        s.fork_id = "fork_" + random_token(12);
        if (auto pin = pins_.find(chain); pin != pins_.end()) {
            s.block = pin->second;
        }
        slots_.push_back(std::move(s));
    }
    record_->update([&](Run& r) {
        for (const auto& s : slots_) {
            ForkInfo f;
            f.fork_id = s.fork_id;
            f.chain_id = s.chain_id;
            f.fork_block_number = s.block;
            r.forks.push_back(std::move(f));
        }
    });
    std::vector<std::size_t> all(slots_.size());
    std::iota(all.begin(), all.end(), std::size_t{0});
    auto results =
        co_await all_in_parallel(strand_, all, [this](std::size_t i) { return provision_one(i); });
    for (auto& r : results) {
        if (r) {
            co_return r;
        }
    }
    co_return std::nullopt;
}

asio::awaitable<boost::system::result<json::value, ErrorInfo>> ForkChains::call(
    std::size_t node_index,
    std::uint64_t chain_id,
    std::string method,
    json::array params) {
    // The same policy as the rpcUrl gateway; stricter for a live chain's shared upstream.
    json::value checked = std::move(params);
    const auto verdict = forks::classify_method(
        simulation_ ? forks::RpcTarget::kFork : forks::RpcTarget::kLive, method, &checked);
    params = std::move(checked.as_array());
    if (verdict.method_class == forks::MethodClass::kRefused) {
        co_return ErrorInfo{RunErrc::kMethodRefused,
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
            co_return ErrorInfo{RunErrc::kChainNotForked,
                                "chain " + std::to_string(chain_id) +
                                    " is not one of this simulation's forked chains"};
        }
    } else {
        auto up = forks_.upstream(chain_id);
        if (!up) {
            co_return ErrorInfo{
                RunErrc::kChainNotConfigured,
                "chain " + std::to_string(chain_id) + " has no configured upstream RPC"};
        }
        url = *up;
    }
    if (slot && report_ && sets_balance(method) && !params.empty() && params[0].is_string()) {
        slot->changes.touch(std::string(params[0].get_string()));
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
            co_return ErrorInfo{RunErrc::kCancelled, "chain " + std::to_string(chain_id) + ": " +
                                                         method + " was cancelled"};
        }
        if (res.error().too_large) {
            co_return ErrorInfo{
                RunErrc::kTooLarge,
                too_large("chain " + std::to_string(chain_id) + ": the " + method + " reply",
                          max_output_bytes_, kMaxNodeOutputBytes)};
        }
        co_return ErrorInfo{res.error().code == forks::RpcErrc::kRpcError ? RunErrc::kRpcError
                                                                          : RunErrc::kRpcFailed,
                            forks::redact_upstreams(res.error().message, forks_.config())};
    }
    co_return std::move(*res);
}

asio::awaitable<std::optional<RunError>> ForkChains::provision_one(std::size_t i) {
    auto& s = slots_[i];
    auto meter = fork_meter(s.fork_id);
    const auto asked = std::chrono::steady_clock::now();
    // Not a conditional expression: GCC 12 miscompiles co_await inside one.
    boost::system::result<forks::ForkHandle, forks::ForkError> opened{forks::ForkError()};
    std::uint32_t attempts = 0;
    if (pool_) {
        // The lease's place in the pool's queue, shown while it waits (from the pool's strand).
        auto queue = [rec = record_, fork_id = s.fork_id](std::size_t at) {
            rec->update([&](Run& r) {
                if (auto* f = r.find_fork(fork_id)) {
                    f->queue_position =
                        at == 0 ? std::nullopt : std::optional(static_cast<std::uint32_t>(at));
                }
            });
        };
        opened = co_await forks_.lease_fork(s.chain_id, meter, std::move(queue), s.block);
    } else {
        opened = co_await forks_.open_fork(s.chain_id, meter, &attempts, s.block);
    }
    if (!opened) {
        record_->update([&](Run& r) {
            if (auto* f = r.find_fork(s.fork_id)) {
                if (!pool_) {
                    f->start_attempts = attempts;
                }
                f->state = ForkState::kFailed;
                f->error = forks::redact_upstreams(opened.error().message, forks_.config());
            }
        });
        co_return RunError{RunErrc::kProvisioningFailed,
                           forks::redact_upstreams(opened.error().message, forks_.config()),
                           std::nullopt};
    }
    s.fork = std::make_shared<forks::ForkHandle>(std::move(*opened));
    if (report_ && s.fork->lease.head_block) {
        s.start_block = s.fork->lease.head_block;  // a pooled fork is lent at its known head
    } else if (report_) {
        // Before the rpcUrl exists, so nothing a client sends comes before it.
        auto call = fork_call(s);
        json::array none;  // named: GCC 12 mishandles temporaries in co_await
        auto head = co_await call("eth_blockNumber", std::move(none));
        if (head && head->is_string()) {
            if (auto n = eth::quantity_from_hex(head->get_string())) {
                s.start_block = *n;
            }
        }
    }
    s.rpc_url = gateway_.open(record_, s.fork_id, s.chain_id, s.fork->url,
                              forks_.upstream(s.chain_id).value_or(""));
    record_->update([&](Run& r) {
        if (auto* f = r.find_fork(s.fork_id)) {
            f->state = ForkState::kReady;
            f->rpc_url = s.rpc_url;
            if (!pool_) {
                f->start_attempts = s.fork->start_attempts;
            }
        }
    });
    if (metrics_) {
        metrics_->fork_provision_seconds.observe(std::chrono::steady_clock::now() - asked);
        (pool_ ? metrics_->forks_live_pool : metrics_->forks_live_fork)++;
    }
    co_return std::nullopt;
}

}  // namespace detail

namespace {

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

void ForkChainProvider::set_metrics(ControllerMetrics* metrics) {
    metrics_ = metrics;
    if (metrics_) {
        metrics_->spawn_ahead = [&forks = forks_] {
            const auto t = forks.spawn_ahead_totals();
            return SpawnAheadFigures{t.ready, t.taken, t.missed, t.aged, t.died};
        };
    }
}

std::unique_ptr<RunChains> ForkChainProvider::open(std::shared_ptr<RunRecord> record,
                                                   asio::any_io_executor strand) {
    return std::make_unique<detail::ForkChains>(forks_, gateway_, std::move(record),
                                                std::move(strand), max_output_bytes_, metrics_,
                                                report_);
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
        // A run that alone names more unconfigured chains than the allowance never fits.
        const bool permanent = held.error().code == forks::PoolErrc::kTooManyChains;
        return QuotaRefusal{held.error().message, std::max(idle, std::chrono::seconds(1)),
                            permanent};
    }
    return std::unique_ptr<ChainHold>(std::make_unique<PoolChainHold>(std::move(*held)));
}

}  // namespace forkrun::controller
