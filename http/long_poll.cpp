// parse_long_poll: waitUntil must be running or terminal, timeoutMs an integer within the cap.
#include "http/long_poll.hpp"

#include <charconv>

#include "http/query.hpp"

namespace forkrun::http {

LongPoll parse_long_poll(std::string_view query,
                         std::chrono::milliseconds max,
                         controller::FieldErrors& errors) {
    LongPoll out;
    if (query.empty()) {
        return out;
    }
    auto params = parse_query(query);
    if (!params) {
        errors.push_back({"/query", "the query string is malformed"});
        return out;
    }
    for (const auto& p : *params) {
        if (p.key == "waitUntil") {
            if (p.value != "running" && p.value != "terminal") {
                errors.push_back({"/query/waitUntil", "must be \"running\" or \"terminal\""});
            } else {
                out.want_terminal = p.value == "terminal";
            }
        } else if (p.key == "timeoutMs") {
            std::int64_t v = -1;
            const auto* end = p.value.data() + p.value.size();
            const auto [ptr, ec] = std::from_chars(p.value.data(), end, v);
            if (p.value.empty() || ec != std::errc() || ptr != end || v < 0 || v > max.count()) {
                errors.push_back({"/query/timeoutMs",
                                  "must be an integer from 0 to " + std::to_string(max.count())});
            } else {
                out.timeout_ms = v;
            }
        }
    }
    return out;
}

}  // namespace forkrun::http
