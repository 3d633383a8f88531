// Event history and subscriber queues: a publisher only appends and posts, never waits.
#include "controller/event_stream.hpp"

#include "util/pack.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace forkrun::controller {

namespace asio = boost::asio;

Subscription::Subscription(asio::any_io_executor ex,
                           std::size_t byte_cap,
                           std::function<bool(const Event&)> filter)
    : ex_(std::move(ex)),
      byte_cap_(byte_cap),
      filter_(std::move(filter)),
      timer_(std::make_shared<asio::steady_timer>(ex_)) {}

std::string sse_frame(const controller::Event& e) {
    std::string out;
    out.reserve(e.data.size() + e.type.size() + 40);
    out.append("id: ");
    out.append(std::to_string(e.id));
    out.append("\nevent: ");
    out.append(e.type);
    out.append("\ndata: ");
    out.append(e.data);
    out.append("\n\n");
    return out;
}

void Subscription::wake_locked() {
    if (!waiting_) {
        return;
    }
    waiting_ = false;
    asio::post(ex_, [t = std::weak_ptr<asio::steady_timer>(timer_)] {
        if (auto timer = t.lock()) {
            timer->cancel();
        }
    });
}

void Subscription::push_first(const EventPtr& e) {
    std::lock_guard lock(mu_);
    queue_.push_front(e);
    wake_locked();
}

void Subscription::push(const EventPtr& e, bool replayed) {
    if (filter_ && !filter_(*e)) {
        return;
    }
    std::lock_guard lock(mu_);
    if (cut_off_ || ended_) {
        return;
    }
    if (replayed) {
        queue_.push_back(e);
        wake_locked();
        return;
    }
    bytes_ += e->bytes();
    if (bytes_ > byte_cap_) {
        // Dropped at once: a consumer that does not read holds no memory.
        cut_off_ = true;
        std::deque<EventPtr>().swap(queue_);
        bytes_ = 0;
    } else {
        queue_.push_back(e);
    }
    wake_locked();
}

void Subscription::end() {
    std::lock_guard lock(mu_);
    ended_ = true;
    wake_locked();
}

void Subscription::stop() {
    end();
}

asio::awaitable<Pulled> Subscription::pull(std::chrono::steady_clock::time_point deadline) {
    auto self = shared_from_this();
    for (;;) {
        {
            std::lock_guard lock(mu_);
            Pulled out;
            if (cut_off_) {
                out.cut_off = true;
                co_return out;
            }
            if (!queue_.empty()) {
                out.events.assign(queue_.begin(), queue_.end());
                queue_.clear();
                bytes_ = 0;
                co_return out;
            }
            if (ended_ || std::chrono::steady_clock::now() >= deadline) {
                out.over = ended_;
                co_return out;
            }
            // A push from here on posts a cancel, which runs after the wait below is armed:
            // both run on this executor.
            waiting_ = true;
        }
        timer_->expires_at(deadline);
        boost::system::error_code ec;
        co_await timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

EventStream::EventStream(std::size_t keep, std::size_t byte_cap)
    : keep_(std::max<std::size_t>(keep, 1)), byte_cap_(byte_cap) {}

std::uint64_t EventStream::publish(Event e) {
    std::lock_guard lock(mu_);
    if (ended_) {
        return next_id_ - 1;  // an ended stream takes nothing more
    }
    e.id = next_id_++;
    if (!subscribers_.empty()) {
        // Framed once for every subscriber. With none (most runs' streams), a later one
        // frames it when it sends it: most events are never sent.
        e.frame = sse_frame(e);
    }
    auto ptr = std::make_shared<const Event>(std::move(e));
    history_->push_back(ptr);
    if (history_->size() > keep_) {
        history_->pop_front();
    }
    bool expired = false;
    for (const auto& w : subscribers_) {
        if (auto s = w.lock()) {
            s->push(ptr);
        } else {
            expired = true;
        }
    }
    if (expired) {
        std::erase_if(subscribers_, [](const auto& w) { return w.expired(); });
    }
    return ptr->id;
}

namespace {

// What a run's events are mostly made of, so that even the first of them compresses to little.
constexpr std::string_view kEventDictionary =
    "fork\n{\"runId\":\"run_\",\"forkId\":\"fork_\",\"chainId\":,\"state\":\"provisioning\","
    "\"rpcUrl\":null,\"error\":null,\"queuePosition\":\"ready\",\"releasing\",\"released\","
    "\"at\":\"2026-12-01T00:00:00.000Z\"}\ncu\n{\"runId\":\"run_\",\"totalCu\":}\n"
    "end\n{\"runId\":\"run_\",\"status\":\"success\",\"totalCu\":0,\"finishedAt\":\"2026-12-01T"
    "\"}\nrun\n{\"runId\":\"run_\",\"status\":\"running\",\"previousStatus\":\"waiting\","
    "\"totalCu\":0,\"at\":\"2026-12-01T\"}\nnode\n{\"runId\":\"run_\",\"nodeId\":\"\","
    "\"status\":\"running\",\"cu\":0,\"error\":null,\"at\":\"2026-12-01T\"}\nnode\n{\"runId\":"
    "\"run_\",\"nodeId\":\"\",\"status\":\"success\",\"cu\":0,\"error\":null,\"at\":\"2026-12-01T"
    "\"}\ncancellation\n{\"requestedBy\":\"\",\"requestedAt\":\"2026-12-01T\",\"reason\":null,"
    "\"completedAt\":\"2026-12-01T\",\"forks\":[]}\nrun\n{\"runId\":\"run_\",\"status\":"
    "\"cancelled\",\"previousStatus\":\"running\",\"totalCu\":0,\"at\":\"2026-12-01T\"}\nend\n"
    "{\"runId\":\"run_\",\"status\":\"cancelled\",\"totalCu\":0,\"finishedAt\":\"2026-12-01T";

}  // namespace

void EventStream::end() {
    std::lock_guard lock(mu_);
    if (ended_) {
        return;
    }
    ended_ = true;
    for (const auto& w : subscribers_) {
        if (auto s = w.lock()) {
            s->end();
        }
    }
    std::vector<std::weak_ptr<Subscription>>().swap(subscribers_);
}

void EventStream::pack() {
    std::lock_guard lock(mu_);
    if (!ended_ || !history_) {
        return;
    }
    // Kept as long as the run is stored and read again only by a late subscriber: each event as
    // a line of its type and a line of its data (one line of JSON), compressed.
    std::string text;
    for (const auto& e : *history_) {
        text.append(e->type).append(1, '\n').append(e->data).append(1, '\n');
    }
    packed_count_ = static_cast<std::uint32_t>(history_->size());
    packed_size_ = static_cast<std::uint32_t>(text.size());
    packed_ = util::pack_text(text, kEventDictionary);
    history_.reset();
}

std::uint64_t EventStream::oldest_locked() const {
    if (!history_) {
        return packed_count_ == 0 ? 0 : next_id_ - packed_count_;
    }
    return history_->empty() ? 0 : history_->front()->id;
}

std::size_t EventStream::held_locked() const {
    return history_ ? history_->size() : packed_count_;
}

std::vector<EventPtr> EventStream::unpack_locked() const {
    std::vector<EventPtr> out;
    const auto text = util::unpack_text(packed_, packed_size_, kEventDictionary);
    if (!text) {
        return out;  // cannot happen: compressed here
    }
    out.reserve(packed_count_);
    std::string_view rest(*text);
    for (std::uint64_t id = next_id_ - packed_count_; !rest.empty(); ++id) {
        const auto type_end = rest.find('\n');
        const auto data_end = rest.find('\n', type_end + 1);
        Event e;
        e.id = id;
        e.type = rest.substr(0, type_end);
        e.data = rest.substr(type_end + 1, data_end - type_end - 1);
        out.push_back(std::make_shared<const Event>(std::move(e)));
        rest.remove_prefix(data_end + 1);
    }
    return out;
}

std::shared_ptr<Subscription> EventStream::subscribe(
    SubscribeFrom from,
    asio::any_io_executor ex,
    std::function<bool(const Event&)> filter,
    const std::function<EventPtr(std::uint64_t)>& snapshot) {
    auto sub = std::make_shared<Subscription>(std::move(ex), byte_cap_, std::move(filter));
    std::lock_guard lock(mu_);
    const std::uint64_t latest = next_id_ - 1;
    if (from.after) {
        const std::size_t held = held_locked();
        std::vector<EventPtr> unpacked;
        if (!history_ && held > 0) {
            unpacked = unpack_locked();
        }
        const auto held_at = [&](std::size_t i) {
            return history_ ? (*history_)[i] : unpacked.at(i);
        };
        const std::uint64_t oldest = held == 0 ? next_id_ : oldest_locked();
        const bool gap = *from.after + 1 < oldest || *from.after > latest;
        if (gap) {
            if (snapshot) {
                sub->push_first(snapshot(latest));
            }
            if (ended_ && held > 0) {
                // The `end`: a stream's last event is its end.
                sub->push(held_at(held - 1), true);
            }
        } else {
            for (std::size_t i = held - (latest - *from.after); i < held; ++i) {
                sub->push(held_at(i), true);
            }
        }
    }
    if (ended_) {
        sub->end();
    } else {
        std::erase_if(subscribers_, [](const auto& w) { return w.expired(); });
        subscribers_.push_back(sub);
    }
    return sub;
}

std::uint64_t EventStream::latest() const {
    std::lock_guard lock(mu_);
    return next_id_ - 1;
}

std::uint64_t EventStream::oldest() const {
    std::lock_guard lock(mu_);
    return oldest_locked();
}

}  // namespace forkrun::controller
