// The access log's line and its redacted path.
#include "http/access_log.hpp"

#include <cstdio>

#include "util/log_line.hpp"

namespace forkrun::http {

std::string loggable_path(std::string_view target) {
    auto path = target.substr(0, target.find('?'));
    std::size_t cut = path.find('%');
    for (std::size_t i = 0; i + 3 <= path.size() && i < cut; ++i) {
        if ((path[i] | 0x20) == 'r' && (path[i + 1] | 0x20) == 'p' && (path[i + 2] | 0x20) == 'c') {
            cut = i + 3 < path.size() && path[i + 3] == '/' ? i + 4 : i + 3;
            break;
        }
    }
    if (cut < path.size()) {
        return std::string(path.substr(0, cut)) + "<redacted>";
    }
    return std::string(path);
}

std::string access_log_line(const AccessEntry& entry) {
    const auto path = loggable_path(entry.target);
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.3f", static_cast<double>(entry.microseconds) / 1000.0);
    util::LogLine line("http.request", 160 + path.size());
    line.str("requestId", entry.request_id).str("method", entry.method).str("path", path);
    if (!entry.fork_id.empty()) {
        line.str("forkId", entry.fork_id);
    }
    line.num("status", static_cast<std::uint64_t>(entry.status)).raw("ms", ms);
    return std::move(line).finish();
}

}  // namespace forkrun::http
