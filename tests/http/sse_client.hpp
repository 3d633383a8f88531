// An event-stream consumer for the tests: a raw socket, every read under a deadline, the
// events parsed (id, type, data).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {

struct SseEvent {
    std::uint64_t id = 0;
    std::string type;
    json::value data;
};

/// An event-stream consumer on a raw socket: every read has a deadline.
class SseClient {
    using Clock = std::chrono::steady_clock;

  public:
    SseClient(std::uint16_t port,
              const std::string& target,
              std::optional<std::string> token = kTokenARw,
              std::vector<std::pair<std::string, std::string>> headers = {})
        : conn_(port) {
        std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        if (token) {
            req += "Authorization: Bearer " + *token + "\r\n";
        }
        for (const auto& [k, v] : headers) {
            req += k + ": " + v + "\r\n";
        }
        req += "\r\n";
        conn_.send_all(req);
    }

    /// Reads the status line and headers; the status code (0 if none came in time).
    int read_head(std::chrono::milliseconds within = 10s) {
        auto r = conn_.read_response_head(Clock::now() + within);
        buffer_ = r.data;
        closed_ = r.closed;
        const auto end = buffer_.find("\r\n\r\n");
        if (end == std::string::npos) {
            return 0;
        }
        head_ = buffer_.substr(0, end + 2);
        buffer_.erase(0, end + 4);
        return raw_status(head_).value_or(0);
    }

    /// The value of header `name` (case as the server writes it), or "".
    std::string header(const std::string& name) const {
        const auto at = head_.find("\r\n" + name + ": ");
        if (at == std::string::npos) {
            return {};
        }
        const auto start = at + name.size() + 4;
        return head_.substr(start, head_.find("\r\n", start) - start);
    }

    /// Reads events until `done(all events so far)`, the server closes, or the deadline.
    template <typename Done>
    std::vector<SseEvent> read(Done done, std::chrono::milliseconds within = 20s) {
        const auto deadline = Clock::now() + within;
        parse();
        while (!done(events_) && !closed_ && Clock::now() < deadline) {
            auto r = conn_.read_until(deadline, [&](const std::string& d) { return !d.empty(); });
            buffer_ += r.data;
            closed_ = closed_ || r.closed;
            parse();
        }
        return events_;
    }
    /// Reads until the server closes the stream (or the deadline).
    std::vector<SseEvent> read_to_close(std::chrono::milliseconds within = 20s) {
        return read([](const auto&) { return false; }, within);
    }

    bool closed() const { return closed_; }
    const std::string& head() const { return head_; }
    RawConnection& connection() { return conn_; }

  private:
    void parse() {
        for (;;) {
            const auto end = buffer_.find("\n\n");
            if (end == std::string::npos) {
                return;
            }
            const std::string frame = buffer_.substr(0, end);
            buffer_.erase(0, end + 2);
            SseEvent e;
            bool any = false;
            std::size_t pos = 0;
            while (pos <= frame.size()) {
                auto nl = frame.find('\n', pos);
                if (nl == std::string::npos) {
                    nl = frame.size();
                }
                const std::string line = frame.substr(pos, nl - pos);
                pos = nl + 1;
                if (line.starts_with("id: ")) {
                    e.id = std::stoull(line.substr(4));
                    any = true;
                } else if (line.starts_with("event: ")) {
                    e.type = line.substr(7);
                } else if (line.starts_with("data: ")) {
                    e.data = json::parse(line.substr(6));
                } else if (line.starts_with(":")) {
                    ++pings_;
                }
            }
            if (any) {
                events_.push_back(std::move(e));
            }
        }
    }

    RawConnection conn_;
    std::string head_;
    std::string buffer_;
    bool closed_ = false;
    int pings_ = 0;
    std::vector<SseEvent> events_;
};

inline bool has_end(const std::vector<SseEvent>& events) {
    return !events.empty() && events.back().type == "end";
}

inline std::string describe(const std::vector<SseEvent>& events) {
    std::string out;
    for (const auto& e : events) {
        out += std::to_string(e.id) + " " + e.type + " " + json::serialize(e.data) + "\n";
    }
    return out;
}

inline void expect_consecutive_ids(const std::vector<SseEvent>& events, std::uint64_t first) {
    for (std::size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(events[i].id, first + i) << describe(events);
    }
}

inline std::string data_str(const SseEvent& e, std::string_view key) {
    const auto* v = e.data.as_object().if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace forkrun::http::test
