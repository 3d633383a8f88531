// The controller's side of a durable store: a run starts only once its row is committed, and the
// runs the store holds are read back before serving.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "controller/controller.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;

asio::awaitable<boost::system::error_code> Controller::commit_created(
    std::shared_ptr<RunRecord> record) {
    boost::system::error_code ec;
    co_await config_.durable->async_insert(record, asio::redirect_error(asio::use_awaitable, ec));
    Uncommitted pending;
    {
        std::lock_guard lock(active_mu_);
        auto it = uncommitted_.find(record->id());
        if (it == uncommitted_.end()) {
            co_return make_error_code(StoreError::kClosed);
        }
        pending = std::move(it->second);
        uncommitted_.erase(it);
    }
    if (ec) {
        // Never stored, never started: the quota ticket and the chains' hold go back with
        // `pending`, and its numbers are not given out again.
        co_return ec;
    }
    store_.add(record);
    begin(pending.exec, std::move(pending.held), std::move(pending.slot));
    co_return ec;
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
