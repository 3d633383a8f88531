// Teardown of a run's forks, each bounded by the teardown timeout with a background reaper for
// what overruns it, and the simulation report's changes read from each fork before it goes.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "controller/fork_chains_internal.hpp"
#include "controller/parallel.hpp"
#include "forks/upstream_redaction.hpp"

namespace forkrun::controller::detail {

using namespace boost::asio::experimental::awaitable_operators;

std::vector<std::size_t> ForkChains::up() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].fork) {
            out.push_back(i);
        }
    }
    return out;
}

asio::awaitable<std::vector<ForkTeardown>> ForkChains::release(bool collect_changes) {
    const bool collect = collect_changes && report_;
    auto out = co_await all_in_parallel(
        strand_, up(), [this, collect](std::size_t i) { return release_one(i, collect); });
    co_return out;
}

asio::awaitable<bool> ForkChains::keep(bool collect, Timestamp until) {
    const auto kept = up();
    if (kept.empty()) {
        co_return false;
    }
    if (collect && report_) {
        // The run's report is its own effect: read now, while only the run has used the forks.
        for (auto i : kept) {
            co_await collect_changes(slots_[i]);
        }
    }
    record_->update([&](Run& r) {
        for (auto i : kept) {
            if (auto* f = r.find_fork(slots_[i].fork_id)) {
                f->state = ForkState::kKept;
                f->kept_until = until;
            }
        }
    });
    co_return true;
}

void ForkChains::note_transaction(std::uint64_t chain_id,
                                  const std::string& tx_hash,
                                  ChainPosition at,
                                  const std::vector<BalanceChange>& changes) {
    if (auto* s = slot_of(chain_id)) {
        s->changes.add_transaction(tx_hash, at, changes);
    }
}

void ForkChains::note_balance_set(std::uint64_t chain_id, ChainPosition at, BalanceChange change) {
    if (auto* s = slot_of(chain_id)) {
        s->changes.add_balance_set(at, std::move(change));
    }
}

// The fork's net balance effect into the run's record, before the fork goes.
asio::awaitable<void> ForkChains::collect_changes(Slot& s) {
    if (!s.start_block) {
        co_return;
    }
    for (const auto& address : gateway_.balance_touched(s.rpc_url)) {
        s.changes.touch(address);
    }
    // Bounded like a teardown: a fork that stopped answering costs the run that long at most.
    const auto bound = forks_.config().teardown_timeout;
    asio::steady_timer timer(strand_, bound);
    auto call = fork_call(s);
    auto outcome = co_await (
        record_chain_changes(std::move(call), s.chain_id, *s.start_block, s.changes, *record_) ||
        timer.async_wait(asio::use_awaitable));
    if (outcome.index() == 1) {
        const auto key = std::to_string(s.chain_id);
        record_->update([&](Run& r) {
            r.change_totals[key] =
                json::object{{"complete", false},
                             {"error", "reading the fork's changes took longer than " +
                                           std::to_string(bound.count()) + " ms"}};
        });
    }
}

asio::awaitable<ForkTeardown> ForkChains::release_one(std::size_t i, bool collect) {
    auto& s = slots_[i];
    const auto started = std::chrono::steady_clock::now();
    // The rpcUrl refuses service from here on. A pooled fork is reverted only once every
    // call already forwarded has landed, and never after a call the revert cannot undo.
    bool reusable = true;
    if (collect) {
        // Every client call has landed before the report reads the fork.
        const auto closed =
            co_await gateway_.close_and_drain(s.rpc_url, forks_.config().teardown_timeout / 2);
        reusable = closed.drained && !closed.tainted && !s.tainted;
        co_await collect_changes(s);
    } else if (pool_) {
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
            if (!r.ok() && fork->process) {
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
    out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                 .count();
    if (td->result) {
        out.ok = td->result->ok();
        out.method = td->result->method;
        if (!td->result->message.empty()) {
            out.error = forks::redact_upstreams(td->result->message, forks_.config());
        }
    } else {
        out.ok = false;
        out.method = pool_ ? forks::TeardownMethod::kEvmRevert : forks::TeardownMethod::kSigterm;
        out.error = "teardown did not finish within " +
                    std::to_string(forks_.config().teardown_timeout.count()) +
                    " ms; handed to the background reaper";
    }
    // A kept fork is released after its run ended.
    record_->update_forks([&](Run& r) {
        if (auto* f = r.find_fork(s.fork_id)) {
            f->state = out.ok ? ForkState::kReleased : ForkState::kFailed;
            f->error = out.error;
            f->kept_until.reset();
        }
    });
    if (metrics_) {
        (pool_ ? metrics_->forks_live_pool : metrics_->forks_live_fork)--;
    }
    co_return out;
}

}  // namespace forkrun::controller::detail
