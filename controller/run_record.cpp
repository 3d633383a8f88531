// The lock discipline of a stored run: state changes, terminal compare-and-set, cached JSON.
#include "controller/run_record.hpp"

namespace forkrun::controller {

RunRecord::RunRecord(Run run, std::uint64_t seq)
    : id_(run.id), organization_id_(run.organization_id), seq_(seq), run_(std::move(run)) {}

bool RunRecord::update(const std::function<void(Run&)>& f) {
    std::vector<std::weak_ptr<StatusWatcher>> to_notify;
    {
        std::lock_guard lock(mu_);
        if (is_terminal(run_.status)) {
            return false;
        }
        const auto before = run_.status;
        f(run_);
        if (is_terminal(run_.status)) {
            run_.status = before;  // terminal states only through finish()
        }
        run_.has_run = run_.has_run || run_.status == RunStatus::kRunning;
        cache_ = {};
        if (run_.status != before) {
            to_notify.swap(watchers_);
        }
    }
    notify(to_notify);
    return true;
}

bool RunRecord::finish(RunStatus terminal, const std::function<void(Run&)>& f) {
    std::vector<std::weak_ptr<StatusWatcher>> to_notify;
    {
        std::lock_guard lock(mu_);
        if (is_terminal(run_.status) || !is_terminal(terminal)) {
            return false;
        }
        f(run_);
        run_.status = terminal;
        if (!run_.finished_at) {
            run_.finished_at = Clock::now();
        }
        cache_ = {};
        to_notify.swap(watchers_);
    }
    notify(to_notify);
    return true;
}

std::shared_ptr<const std::string> RunRecord::serialized(
    RunView view,
    const std::function<std::string(const Run&)>& serialize) const {
    std::lock_guard lock(mu_);
    auto& slot = cache_[static_cast<std::size_t>(view)];
    if (!slot) {
        slot = std::make_shared<const std::string>(serialize(run_));
    }
    return slot;
}

void RunRecord::add_watcher(std::weak_ptr<StatusWatcher> w) {
    std::lock_guard lock(mu_);
    if (is_terminal(run_.status)) {
        return;  // nothing will change again; the caller re-reads the status after registering
    }
    // Drop watchers that went away (timed-out long-polls) before the list grows.
    if (watchers_.size() >= 16) {
        std::erase_if(watchers_, [](const auto& x) { return x.expired(); });
    }
    watchers_.push_back(std::move(w));
}

void RunRecord::notify(std::vector<std::weak_ptr<StatusWatcher>>& watchers) {
    for (auto& w : watchers) {
        if (auto s = w.lock()) {
            s->on_status_change();
        }
    }
}

}  // namespace forkrun::controller
