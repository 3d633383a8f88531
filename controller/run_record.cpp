// The lock discipline of a stored run: state changes, terminal compare-and-set, cached JSON.
#include "controller/run_record.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <optional>
#include <string_view>

namespace forkrun::controller {

RunRecord::RunRecord(Run run, std::uint64_t seq, std::uint64_t org_seq)
    : id_(run.id),
      organization_id_(run.organization_id),
      seq_(seq),
      org_seq_(org_seq),
      run_(std::move(run)) {}

std::shared_ptr<RunRecord> RunRecord::restored(Run run,
                                               std::uint64_t seq,
                                               std::uint64_t org_seq,
                                               std::string full,
                                               std::string summary,
                                               std::string_view dictionary) {
    auto rec = std::make_shared<RunRecord>(std::move(run), seq, org_seq);
    rec->cache_[static_cast<std::size_t>(RunView::kFull)] =
        std::make_shared<const std::string>(std::move(full));
    rec->cache_[static_cast<std::size_t>(RunView::kSummary)] =
        std::make_shared<const std::string>(std::move(summary));
    // Not shared yet: no lock needed. The request's places are read before the text is packed.
    rec->drop_request();
    rec->pack_full_locked(dictionary);
    rec->compacted_ = true;
    return rec;
}

std::shared_ptr<const std::string> RunRecord::full_locked() const {
    const auto& cached = cache_[static_cast<std::size_t>(RunView::kFull)];
    return cached ? cached : packed_full_.text();
}

void RunRecord::pack_full_locked(std::string_view dictionary) {
    auto& full = cache_[static_cast<std::size_t>(RunView::kFull)];
    if (!full) {
        return;
    }
    PackedText packed(*full, dictionary);
    if (!packed.empty()) {
        packed_full_ = std::move(packed);
        full.reset();
    }
}

void RunRecord::set_change_sink(RunChangeSink* sink) {
    std::lock_guard lock(mu_);
    sink_ = sink;
}

bool RunRecord::update(const std::function<void(Run&)>& f) {
    std::vector<std::weak_ptr<StatusWatcher>> to_notify;
    RunChangeSink* sink = nullptr;
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
        if (events_) {
            events_->observe(run_);
        }
        if (run_.status != before) {
            to_notify.swap(watchers_);
        }
        sink = sink_;
    }
    changed(to_notify, sink);
    return true;
}

bool RunRecord::in_progress() const {
    std::lock_guard lock(mu_);
    return !is_terminal(run_.status) || run_.keeps_forks();
}

void RunRecord::charge_fork(const std::string& fork_id, std::uint64_t cost) {
    if (cost == 0) {
        return;
    }
    auto add = [&](Run& r) {
        if (auto* f = r.find_fork(fork_id)) {
            f->cu += cost;
        }
    };
    if (update(add)) {
        return;
    }
    // Terminal (it never goes back): totalCu is final, the call was an inspection.
    std::lock_guard lock(mu_);
    if (!compacted_) {
        run_.inspection_cu += cost;
        cache_ = {};
    }
}

bool RunRecord::update_forks(const std::function<void(Run&)>& f) {
    if (update(f)) {
        return true;
    }
    std::lock_guard lock(mu_);
    if (compacted_) {
        return false;
    }
    const auto status = run_.status;
    f(run_);
    run_.status = status;
    cache_ = {};
    if (events_) {
        events_->observe(run_);
    }
    return true;
}

bool RunRecord::finish(RunStatus terminal, const std::function<void(Run&)>& f) {
    std::vector<std::weak_ptr<StatusWatcher>> to_notify;
    RunChangeSink* sink = nullptr;
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
        if (events_) {
            events_->observe(run_);
        }
        to_notify.swap(watchers_);
        sink = sink_;
    }
    changed(to_notify, sink);
    return true;
}

std::shared_ptr<const std::string> RunRecord::serialized(
    RunView view,
    const std::function<std::string(const Run&)>& serialize) const {
    std::lock_guard lock(mu_);
    auto& slot = cache_[static_cast<std::size_t>(view)];
    if (!slot && view == RunView::kFull && !packed_full_.empty()) {
        return packed_full_.text();  // a compacted run's, expanded (decision 70)
    }
    if (!slot) {
        slot = std::make_shared<const std::string>(serialize(run_));
    }
    return slot;
}

Run RunRecord::snapshot() const {
    std::lock_guard lock(mu_);
    Run copy = run_;
    if (request_cut_) {
        // Re-runs are rare: parse the definition and propValues again where they lie in the
        // full text (expanded if it is packed).
        const auto text = full_locked();
        const std::string_view full = text ? std::string_view(*text) : std::string_view();
        const auto& cut = *request_cut_;
        boost::system::error_code ec;
        if (full.size() >= std::size_t(cut[0]) + cut[1] &&
            full.size() >= std::size_t(cut[2]) + cut[3]) {
            auto def = boost::json::parse(full.substr(cut[0], cut[1]), ec);
            if (!ec && def.is_object()) {
                copy.workflow_definition = std::move(def.as_object());
            }
            auto props = boost::json::parse(full.substr(cut[2], cut[3]), ec);
            if (!ec && props.is_object()) {
                copy.prop_values = std::move(props.as_object());
            }
        }
    }
    return copy;
}

void RunRecord::drop_request() {
    // Where the definition and propValues lie in the full text: any place their own
    // serialization appears parses back to them, whatever the format around it.
    const std::string_view full = *cache_[static_cast<std::size_t>(RunView::kFull)];
    const std::string def = boost::json::serialize(run_.workflow_definition);
    const std::string props = boost::json::serialize(run_.prop_values);
    const auto def_at = full.find(def);
    const auto props_at = full.find(props);
    if (def_at == std::string_view::npos || props_at == std::string_view::npos ||
        full.size() >= UINT32_MAX) {
        return;  // kept, then: a re-run must find them
    }
    drop_request_at(std::array<std::uint32_t, 4>{
        static_cast<std::uint32_t>(def_at), static_cast<std::uint32_t>(def.size()),
        static_cast<std::uint32_t>(props_at), static_cast<std::uint32_t>(props.size())});
}

void RunRecord::drop_request_at(const std::array<std::uint32_t, 4>& cut) {
    request_cut_ = cut;
    // Swapped with empties, so the memory goes back now rather than when the record does.
    boost::json::object().swap(run_.workflow_definition);
    boost::json::object().swap(run_.prop_values);
}

void RunRecord::compact(
    const std::function<std::string(const Run&)>& full,
    const std::function<std::string(const Run&)>& summary,
    std::string_view dictionary,
    const std::function<std::optional<RunTextCut>(std::string_view full)>& cut) {
    std::lock_guard lock(mu_);
    if (compacted_ || !is_terminal(run_.status)) {
        return;
    }
    auto& full_slot = cache_[static_cast<std::size_t>(RunView::kFull)];
    auto& summary_slot = cache_[static_cast<std::size_t>(RunView::kSummary)];
    if (!full_slot) {
        full_slot = std::make_shared<const std::string>(full(run_));
    }
    // Before the text is packed: the summary and the request's places, read off the full text
    // when the wire layer can, else made again from the run.
    auto parts = cut && full_slot->size() < UINT32_MAX ? cut(*full_slot) : std::nullopt;
    if (!summary_slot) {
        summary_slot =
            std::make_shared<const std::string>(parts ? std::move(parts->summary) : summary(run_));
    }
    if (parts) {
        drop_request_at(parts->request);
    } else {
        drop_request();
    }
    pack_full_locked(dictionary);
    if (events_) {
        events_->stream().pack();
    }
    std::vector<NodeState>().swap(run_.nodes);
    std::vector<ForkInfo>().swap(run_.forks);
    run_.error.reset();
    run_.cancellation.reset();
    compacted_ = true;
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

void RunRecord::attach_events(std::shared_ptr<RunEvents> events) {
    std::lock_guard lock(mu_);
    events_ = std::move(events);
    events_->observe(run_);
}

namespace {

// The events of a run read back from a durable store, which kept no history: the run as it
// ended (`full`, its cached JSON), then its end.
std::shared_ptr<Subscription> restored_events(boost::asio::any_io_executor ex,
                                              const std::string& id,
                                              RunStatus status,
                                              const std::shared_ptr<const std::string>& full) {
    if (!full || !is_terminal(status)) {
        return nullptr;
    }
    boost::system::error_code ec;
    const auto doc = boost::json::parse(*full, ec);
    const auto* o = ec ? nullptr : doc.if_object();
    boost::json::object end{{"runId", id},
                            {"status", to_string(status)},
                            {"totalCu", o && o->contains("totalCu") ? o->at("totalCu") : 0},
                            {"finishedAt", o && o->contains("finishedAt") ? o->at("finishedAt")
                                                                          : boost::json::value()}};
    auto sub = std::make_shared<Subscription>(std::move(ex), EventStream::kDefaultByteCap, nullptr);
    sub->push_first(std::make_shared<const Event>(Event{1, "snapshot", *full, {}, false, {}}));
    sub->push(
        std::make_shared<const Event>(Event{1, "end", boost::json::serialize(end), {}, false, {}}));
    sub->end();
    return sub;
}

}  // namespace

bool RunRecord::read_back() const {
    std::lock_guard lock(mu_);
    return !events_ && compacted_;
}

std::shared_ptr<Subscription> RunRecord::subscribe_events(
    SubscribeFrom from,
    boost::asio::any_io_executor ex,
    const std::function<std::string(const Run&)>& full) const {
    // Under the lock no event is published, so a snapshot is the run as of the latest id.
    std::lock_guard lock(mu_);
    if (!events_) {
        return compacted_ ? restored_events(std::move(ex), id_, run_.status, full_locked())
                          : nullptr;
    }
    auto snapshot = [&](std::uint64_t latest) {
        Event e;
        e.id = latest;
        e.type = "snapshot";
        const auto cached = full_locked();
        e.data = cached ? *cached : full(run_);
        return std::make_shared<const Event>(std::move(e));
    };
    return events_->stream().subscribe(from, std::move(ex), {}, snapshot);
}

void RunRecord::changed(std::vector<std::weak_ptr<StatusWatcher>>& watchers, RunChangeSink* sink) {
    notify(watchers);
    if (sink) {
        sink->run_changed(*this);
    }
}

void RunRecord::notify(std::vector<std::weak_ptr<StatusWatcher>>& watchers) {
    for (auto& w : watchers) {
        if (auto s = w.lock()) {
            s->on_status_change();
        }
    }
}

}  // namespace forkrun::controller
