// Server-Sent Events framing of a subscription; a consumer cut off for falling behind is closed.
#include "http/sse_stream.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace forkrun::http {

namespace asio = boost::asio;

SseStream::SseStream(std::shared_ptr<controller::Subscription> sub,
                     bool ends_with_run,
                     std::chrono::milliseconds ping,
                     std::chrono::milliseconds pace)
    : sub_(std::move(sub)), ends_with_run_(ends_with_run), ping_(ping), pace_(pace) {}

asio::awaitable<std::optional<std::string>> SseStream::next() {
    if (done_) {
        co_return std::nullopt;
    }
    if (pace_.count() > 0) {
        // One write per pace: under a stream of events each subscriber costs a write (and a
        // wake-up of its reader) per interval, not per event. After a quiet spell the first event
        // goes out at once.
        const auto due = last_write_ + pace_;
        if (std::chrono::steady_clock::now() < due) {
            asio::steady_timer timer(co_await asio::this_coro::executor, due);
            boost::system::error_code ec;
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    auto pulled = co_await sub_->pull(std::chrono::steady_clock::now() + ping_);
    if (pulled.cut_off || (pulled.events.empty() && pulled.over)) {
        done_ = true;
        co_return std::nullopt;
    }
    last_write_ = std::chrono::steady_clock::now();
    if (pulled.events.empty()) {
        co_return std::string(": ping\n\n");
    }
    std::size_t size = 0;
    for (const auto& e : pulled.events) {
        size += e->frame.empty() ? e->bytes() + 24 : e->frame.size();
    }
    std::string out;
    out.reserve(size);
    for (const auto& e : pulled.events) {
        if (e->frame.empty()) {
            out.append(controller::sse_frame(*e));
        } else {
            out.append(e->frame);  // framed once when published, for every subscriber
        }
        if (ends_with_run_ && e->type == "end") {
            done_ = true;  // the run's last event
            break;
        }
    }
    co_return out;
}

void SseStream::stop() {
    sub_->stop();
}

}  // namespace forkrun::http
