// response_head: the serializer's output for a response with a known length, byte for byte.
#include "http/response_head.hpp"

#include <boost/beast/http/status.hpp>
#include <charconv>
#include <vector>

namespace forkrun::http {

namespace {

bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

// Without the spaces and tabs around it, as Beast stores a value.
std::string_view trimmed(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

bool one_line(std::string_view s) {
    return s.find_first_of("\r\n") == std::string_view::npos;
}

void append_number(std::string& out, std::size_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, end);
}

}  // namespace

std::string response_head(const ResponseHead& h) {
    std::string out;
    out.reserve(192);
    out += "HTTP/";
    append_number(out, h.version / 10);
    out += '.';
    append_number(out, h.version % 10);
    out += ' ';
    append_number(out, h.status);
    out += ' ';
    const auto reason =
        boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(h.status));
    out.append(reason.data(), reason.size());
    out += "\r\n";
    // The fields in order; a field set again under a name already there replaces it, last.
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    fields.reserve(4 + (h.headers ? h.headers->size() : 0));
    auto set = [&](std::string_view name, std::string_view value) {
        if (!one_line(name) || !one_line(value)) {
            return;
        }
        std::erase_if(fields, [&](const auto& f) { return same_name(f.first, name); });
        fields.emplace_back(name, trimmed(value));
    };
    if (!h.content_type.empty()) {
        set("Content-Type", h.content_type);
    }
    set("X-Request-Id", h.request_id);
    if (h.headers) {
        for (const auto& [name, value] : *h.headers) {
            set(name, value);
        }
    }
    for (const auto& [name, value] : fields) {
        out.append(name);
        out += ": ";
        out.append(value);
        out += "\r\n";
    }
    if (h.version < 11 && h.keep_alive) {
        out += "Connection: keep-alive\r\n";
    } else if (h.version >= 11 && !h.keep_alive) {
        out += "Connection: close\r\n";
    }
    out += "Content-Length: ";
    append_number(out, h.content_length);
    out += "\r\n\r\n";
    return out;
}

}  // namespace forkrun::http
