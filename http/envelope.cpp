// Envelopes are built by concatenation so a cached run's JSON is copied once, never re-parsed.
#include "http/envelope.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <random>

namespace forkrun::http {

namespace json = boost::json;

namespace {

// The length of the well-formed UTF-8 sequence at the start of `s` (Unicode table 3-7), or 0.
std::size_t utf8_sequence(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char b = byte(0);
    if (b < 0x80) {
        return 1;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        lo = b == 0xe0 ? 0xa0 : 0x80;
        hi = b == 0xed ? 0x9f : 0xbf;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        lo = b == 0xf0 ? 0x90 : 0x80;
        hi = b == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (s.size() < n || byte(1) < lo || byte(1) > hi) {
        return 0;
    }
    for (std::size_t i = 2; i < n; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xbf) {
            return 0;
        }
    }
    return n;
}

bool is_valid_utf8(std::string_view s) {
    while (!s.empty()) {
        const std::size_t n = utf8_sequence(s);
        if (n == 0) {
            return false;
        }
        s.remove_prefix(n);
    }
    return true;
}

}  // namespace

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    while (!s.empty()) {
        const std::size_t n = utf8_sequence(s);
        if (n == 0) {
            out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            s.remove_prefix(1);
        } else {
            out.append(s.substr(0, n));
            s.remove_prefix(n);
        }
    }
    return out;
}

std::string json_quote(std::string_view s) {
    if (is_valid_utf8(s)) {
        return json::serialize(json::string_view(s.data(), s.size()));
    }
    const std::string text = valid_utf8(s);
    return json::serialize(json::string_view(text.data(), text.size()));
}

std::string request_id_for(std::string_view header) {
    bool ok = !header.empty() && header.size() <= 128;
    for (char c : header) {
        if (!ok) {
            break;
        }
        ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (ok) {
        return std::string(header);
    }
    // Unique, not secret: a per-thread generator seeded from the OS.
    thread_local std::mt19937_64 gen{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id = "req_";
    for (int w = 0; w < 2; ++w) {
        auto x = gen();
        for (int i = 0; i < 16; ++i) {
            id.push_back(kHex[x & 0xf]);
            x >>= 4;
        }
    }
    return id;
}

std::string envelope(unsigned code,
                     std::string_view data_json,
                     std::string_view message,
                     std::string_view request_id) {
    std::string out;
    out.reserve(data_json.size() + message.size() + request_id.size() + 64);
    out.append("{\"code\":");
    out.append(std::to_string(code));
    out.append(",\"data\":");
    out.append(data_json);
    out.append(",\"message\":");
    out.append(json_quote(message));
    out.append(",\"requestId\":");
    out.append(json_quote(request_id));
    out.push_back('}');
    return out;
}

std::string validation_envelope(const controller::FieldErrors& errors,
                                std::string_view message,
                                std::string_view request_id) {
    json::array list;
    list.reserve(errors.size());
    for (const auto& e : errors) {
        auto text = [](const std::string& s) {
            return is_valid_utf8(s) ? json::string(s) : json::string(valid_utf8(s));
        };
        list.push_back(json::object{{"path", text(e.path)}, {"message", text(e.message)}});
    }
    json::object data{{"errors", std::move(list)}};
    return envelope(400, json::serialize(data), message, request_id);
}

}  // namespace forkrun::http
