// Envelopes are built by concatenation so a cached run's JSON is copied once, never re-parsed.
#include "http/envelope.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <random>

namespace forkrun::http {

namespace json = boost::json;

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

void envelope_open(std::string& out, unsigned code) {
    out.append("{\"code\":");
    out.append(std::to_string(code));
    out.append(",\"data\":");
}

void envelope_close(std::string& out, std::string_view message, std::string_view request_id) {
    out.append(",\"message\":");
    out.append(json_quote(message));
    out.append(",\"requestId\":");
    out.append(json_quote(request_id));
    out.push_back('}');
}

std::string envelope(unsigned code,
                     std::string_view data_json,
                     std::string_view message,
                     std::string_view request_id) {
    std::string out;
    out.reserve(data_json.size() + message.size() + request_id.size() + 64);
    envelope_open(out, code);
    out.append(data_json);
    envelope_close(out, message, request_id);
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
