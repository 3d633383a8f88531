// Run events: a diff of the run against what was last published, so every change lands once and
// in order whichever component made it.
#include "controller/run_events.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <algorithm>
#include <optional>

#include "util/json_writer.hpp"
#include "util/timestamp.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

struct EventBus::Timer {
    explicit Timer(asio::any_io_executor ex) : ex(ex), timer(ex) {}
    asio::any_io_executor ex;
    asio::steady_timer timer;  // only touched on `ex`
    std::mutex mu;
    std::vector<std::weak_ptr<RunEvents>> due;
    bool armed = false;
};

EventBus::EventBus(asio::any_io_executor ex, std::size_t keep, std::size_t byte_cap)
    : keep_(keep), byte_cap_(byte_cap), timer_(std::make_shared<Timer>(std::move(ex))) {}

EventBus::~EventBus() = default;

std::shared_ptr<EventStream> EventBus::organization(const std::string& organization_id) {
    std::lock_guard lock(mu_);
    auto& s = orgs_[organization_id];
    if (!s) {
        s = std::make_shared<EventStream>(keep_, byte_cap_);
    }
    return s;
}

std::shared_ptr<RunEvents> EventBus::open(const Run& run) {
    return std::make_shared<RunEvents>(run, *this, organization(run.organization_id));
}

void EventBus::flush_later(std::weak_ptr<RunEvents> run) {
    std::lock_guard lock(timer_->mu);
    timer_->due.push_back(std::move(run));
    if (timer_->armed) {
        return;
    }
    timer_->armed = true;
    asio::post(timer_->ex, [t = timer_] {
        t->timer.expires_after(kCuInterval);
        t->timer.async_wait([t](const boost::system::error_code& ec) {
            std::vector<std::weak_ptr<RunEvents>> due;
            {
                std::lock_guard lock(t->mu);
                due.swap(t->due);
                t->armed = false;
            }
            if (ec) {
                return;
            }
            for (auto& w : due) {
                if (auto r = w.lock()) {
                    r->flush_cu();
                }
            }
        });
    });
}

RunEvents::RunEvents(const Run& run, EventBus& bus, std::shared_ptr<EventStream> org)
    : bus_(bus),
      org_(std::move(org)),
      stream_(bus.keep(), bus.byte_cap()),
      run_id_(run.id),
      workflow_id_(run.workflow_id),
      is_simulation_(run.is_simulation) {}

namespace {

// An event's data: an object written key by key in the API's order (util::JsonWriter), as
// Boost.JSON would serialize it (a run makes six or more).
class EventText : public util::JsonWriter {
  public:
    EventText() { open('{'); }
    std::string done() && {
        close('}');
        return std::move(*this).take();
    }
};

std::string cu_text(std::string_view run_id, std::uint64_t total) {
    EventText o;
    o.str("runId", run_id).num("totalCu", total);
    return std::move(o).done();
}

}  // namespace

void RunEvents::publish(std::string type, std::string data, bool to_org) {
    Event e;
    e.type = std::move(type);
    e.data = std::move(data);
    e.workflow_id = workflow_id_;
    e.is_simulation = is_simulation_;
    if (to_org && org_) {
        org_->publish(e);
    }
    if (const auto& sink = bus_.sink()) {
        // Kept beyond the process too (a durable store), with the id the stream gave it.
        Event kept;
        kept.type = e.type;
        kept.data = e.data;
        kept.id = stream_.publish(std::move(e));
        sink(run_id_, kept);
        return;
    }
    stream_.publish(std::move(e));
}

void RunEvents::observe(const Run& run) {
    std::lock_guard lock(mu_);
    std::string at_text;  // made once, when the first event needs it
    auto at = [&]() -> const std::string& {
        if (at_text.empty()) {
            at_text = util::format_timestamp(Clock::now());
        }
        return at_text;
    };
    const std::uint64_t total = run.total_cu();
    auto run_event = [&](std::optional<RunStatus> previous) {
        EventText o;
        o.str("runId", run_id_).str("status", to_string(run.status));
        if (previous) {
            o.str("previousStatus", to_string(*previous));
        } else {
            o.null("previousStatus");
        }
        o.num("totalCu", total).str("at", at());
        publish("run", std::move(o).done(), true);
        sent_cu_ = total;
    };
    if (!started_) {
        started_ = true;
        status_ = run.status;
        for (const auto& n : run.nodes) {
            nodes_.push_back(n.status);
        }
        for (const auto& f : run.forks) {
            forks_.push_back(ForkSeen{f.state, f.queue_position});
        }
        total_cu_ = total;
        run_event(std::nullopt);
        return;
    }
    if (is_terminal(status_)) {
        if (kept_) {
            // A failed run's kept forks are released after it ended: their events, then `end`.
            publish_forks(run, at);
            end_unless_kept(run);
        }
        return;
    }
    if (nodes_.size() < run.nodes.size()) {
        nodes_.resize(run.nodes.size(), NodeStatus::kPending);
    }
    for (std::size_t i = 0; i < run.nodes.size(); ++i) {
        const auto& n = run.nodes[i];
        if (n.status == nodes_[i]) {
            continue;
        }
        nodes_[i] = n.status;
        EventText o;
        o.str("runId", run_id_).str("nodeId", n.id).str("status", to_string(n.status));
        o.num("cu", n.cu);
        write_error_info(o, "error", n.error);
        o.str("at", at());
        publish("node", std::move(o).done(), false);
    }
    publish_forks(run, at);
    total_cu_ = total;
    if (run.status != status_) {
        const auto previous = status_;
        status_ = run.status;
        if (is_terminal(run.status) && run.cancellation) {
            publish("cancellation", json::serialize(json::value_from(*run.cancellation)), false);
        }
        run_event(previous);
        if (is_terminal(run.status)) {
            end_unless_kept(run);
        }
        return;
    }
    if (total == sent_cu_) {
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - cu_at_ >= EventBus::kCuInterval) {
        cu_at_ = now;
        sent_cu_ = total;
        publish("cu", cu_text(run_id_, total), false);
    } else if (!flush_armed_) {
        flush_armed_ = true;
        bus_.flush_later(weak_from_this());
    }
}

void RunEvents::publish_forks(const Run& run, const std::function<const std::string&()>& at) {
    for (std::size_t i = 0; i < run.forks.size(); ++i) {
        const auto& f = run.forks[i];
        const ForkSeen seen{f.state, f.queue_position};
        if (i < forks_.size() && forks_[i] == seen) {
            continue;
        }
        if (i < forks_.size()) {
            forks_[i] = seen;
        } else {
            forks_.push_back(seen);
        }
        EventText o;
        o.str("runId", run_id_).str("forkId", f.fork_id).num("chainId", f.chain_id);
        o.str("state", to_string(f.state));
        if (f.rpc_url.empty()) {
            o.null("rpcUrl");
        } else {
            o.str("rpcUrl", f.rpc_url);
        }
        o.opt_str("error", f.error).opt_num("queuePosition", f.queue_position);
        o.opt_time("keptUntil", f.kept_until).str("at", at());
        publish("fork", std::move(o).done(), false);
    }
}

void RunEvents::end_unless_kept(const Run& run) {
    kept_ = run.keeps_forks();
    if (kept_) {
        return;
    }
    EventText o;
    o.str("runId", run_id_).str("status", to_string(run.status)).num("totalCu", run.total_cu());
    o.opt_time("finishedAt", run.finished_at);
    publish("end", std::move(o).done(), true);
    stream_.end();
    std::vector<NodeStatus>().swap(nodes_);  // nothing changes again
    std::vector<ForkSeen>().swap(forks_);
}

void RunEvents::flush_cu() {
    std::lock_guard lock(mu_);
    flush_armed_ = false;
    if (is_terminal(status_) || total_cu_ == sent_cu_) {
        return;
    }
    cu_at_ = std::chrono::steady_clock::now();
    sent_cu_ = total_cu_;
    publish("cu", cu_text(run_id_, total_cu_), false);
}

}  // namespace forkrun::controller
