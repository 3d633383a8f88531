// Event history and subscriber queues: a publisher only appends and posts, never waits.
#include "controller/event_stream.hpp"

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
    e.id = next_id_++;
    e.frame = sse_frame(e);
    auto ptr = std::make_shared<const Event>(std::move(e));
    history_.push_back(ptr);
    if (history_.size() > keep_) {
        history_.pop_front();
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
    subscribers_.clear();
    std::size_t bytes = 0;
    for (const auto& e : history_) {
        bytes += e->type.size() + e->data.size();
    }
    packed_.reserve(bytes);
    packed_index_.reserve(history_.size());
    for (const auto& e : history_) {
        packed_index_.push_back({static_cast<std::uint32_t>(packed_.size()),
                                 static_cast<std::uint32_t>(e->type.size())});
        packed_.append(e->type);
        packed_.append(e->data);
    }
    std::deque<EventPtr>().swap(history_);
}

std::uint64_t EventStream::oldest_locked() const {
    if (ended_) {
        return packed_index_.empty() ? 0 : next_id_ - packed_index_.size();
    }
    return history_.empty() ? 0 : history_.front()->id;
}

std::size_t EventStream::held_locked() const {
    return ended_ ? packed_index_.size() : history_.size();
}

EventPtr EventStream::held_at_locked(std::size_t i) const {
    if (!ended_) {
        return history_[i];
    }
    const auto& at = packed_index_[i];
    const std::size_t end =
        i + 1 < packed_index_.size() ? packed_index_[i + 1].begin : packed_.size();
    Event e;
    e.id = next_id_ - packed_index_.size() + i;
    e.type = packed_.substr(at.begin, at.type_size);
    e.data = packed_.substr(at.begin + at.type_size, end - at.begin - at.type_size);
    return std::make_shared<const Event>(std::move(e));
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
        const std::uint64_t oldest = held == 0 ? next_id_ : oldest_locked();
        const bool gap = *from.after + 1 < oldest || *from.after > latest;
        if (gap) {
            if (snapshot) {
                sub->push_first(snapshot(latest));
            }
            if (ended_ && held > 0) {
                // The `end`: a stream's last event is its end.
                sub->push(held_at_locked(held - 1), true);
            }
        } else {
            for (std::size_t i = held - (latest - *from.after); i < held; ++i) {
                sub->push(held_at_locked(i), true);
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
