// The controller's side of a durable store: a run starts only once its row is committed, and the
// runs the store holds are read back before serving.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "controller/controller.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;

asio::awaitable<CommitResult> Controller::commit_created(std::shared_ptr<RunRecord> record) {
    CommitResult result;
    if (config_.shared_quotas) {
        // Counted across the members first: a run refused there is never stored.
        std::shared_ptr<RunHold> held;
        {
            std::lock_guard lock(active_mu_);
            if (auto it = uncommitted_.find(record->id()); it != uncommitted_.end()) {
                held = it->second.held;
            }
        }
        if (held) {
            auto taken = co_await config_.shared_quotas->take(held->ticket, config_.limits);
            if (taken.ec || taken.refused) {
                std::lock_guard lock(active_mu_);
                uncommitted_.erase(record->id());  // its ticket and hold go back with it
                result.ec = taken.ec;
                result.quota = std::move(taken.refused);
                co_return result;
            }
        }
    }
    boost::system::error_code ec;
    co_await config_.durable->async_insert(record, asio::redirect_error(asio::use_awaitable, ec));
    Uncommitted pending;
    {
        std::lock_guard lock(active_mu_);
        auto it = uncommitted_.find(record->id());
        if (it == uncommitted_.end()) {
            result.ec = make_error_code(StoreError::kClosed);
            co_return result;
        }
        pending = std::move(it->second);
        uncommitted_.erase(it);
    }
    if (ec) {
        // Never stored, never started: the quota ticket and the chains' hold go back with
        // `pending`, and its numbers are not given out again.
        result.ec = ec;
        co_return result;
    }
    store_.add(record);
    begin(pending.exec, std::move(pending.held), std::move(pending.slot));
    co_return result;
}

void Controller::restore(std::vector<RestoredRun> runs,
                         const std::vector<std::pair<std::string, std::uint64_t>>& org_last_seq,
                         std::uint64_t stride,
                         std::uint64_t slot) {
    store_.set_org_seq_slot(stride, slot);
    for (auto& r : runs) {
        store_.restore(std::move(r.run), r.org_seq, std::move(r.full), std::move(r.summary));
    }
    for (const auto& [org, seq] : org_last_seq) {
        store_.note_org_seq(org, seq);
    }
}

}  // namespace forkrun::controller
