// An answer's status line and fields, written as one string ahead of its body: the bytes
// Beast's serializer writes for the same response (decision 86), without its per-field buffer
// sequence on every answer.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forkrun::http {

struct ResponseHead {
    unsigned status = 200;
    unsigned version = 11;  // 10: HTTP/1.0
    bool keep_alive = true;
    std::string_view content_type;  // empty: no Content-Type
    std::string_view request_id;
    const std::vector<std::pair<std::string_view, std::string>>* headers = nullptr;
    std::size_t content_length = 0;
};

/// `HTTP/1.1 200 OK`, then Content-Type, X-Request-Id, the headers (of two with one name only
/// the later, in its own place, as Beast's `set` does), Connection where the version needs
/// it to say `keep_alive`, Content-Length, and the blank line; values without the spaces and
/// tabs around them. A field whose name or value holds a CR or LF is left out (never a second
/// header line).
std::string response_head(const ResponseHead& h);

}  // namespace forkrun::http
