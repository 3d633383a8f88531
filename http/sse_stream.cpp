// Server-Sent Events framing of a subscription; a consumer cut off for falling behind is closed.
#include "http/sse_stream.hpp"

namespace forkrun::http {

namespace asio = boost::asio;

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

SseStream::SseStream(std::shared_ptr<controller::Subscription> sub,
                     bool ends_with_run,
                     std::chrono::milliseconds ping)
    : sub_(std::move(sub)), ends_with_run_(ends_with_run), ping_(ping) {}

asio::awaitable<std::optional<std::string>> SseStream::next() {
    if (done_) {
        co_return std::nullopt;
    }
    auto pulled = co_await sub_->pull(std::chrono::steady_clock::now() + ping_);
    if (pulled.cut_off || (pulled.events.empty() && pulled.over)) {
        done_ = true;
        co_return std::nullopt;
    }
    if (pulled.events.empty()) {
        co_return std::string(": ping\n\n");
    }
    std::string out;
    for (const auto& e : pulled.events) {
        out.append(sse_frame(*e));
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
