// A listed origin's preflight gets what a browser needs to send the real request; every answer
// to a listed origin names it. Credentials (cookies) are never allowed: the API's only credential
// is the Authorization header, which a page sends explicitly.
#include "http/cors.hpp"

#include <algorithm>

#include "http/envelope.hpp"

namespace forkrun::http {

namespace {

constexpr std::string_view kAllowMethods = "GET, POST, OPTIONS";
constexpr std::string_view kAllowHeaders =
    "Authorization, Content-Type, Idempotency-Key, Last-Event-ID, X-Request-Id";
// What a page may read beyond the CORS-safelisted response headers.
constexpr std::string_view kExposeHeaders =
    "Allow, Idempotent-Replayed, Location, Retry-After, WWW-Authenticate, X-Request-Id";
// Browsers cap it lower (Chromium: 2 h, Firefox: 24 h); 10 min keeps a changed list effective.
constexpr std::string_view kMaxAge = "600";

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

}  // namespace

std::string cors_origin_problem(std::string_view origin) {
    std::string_view rest;
    if (origin.starts_with("http://")) {
        rest = origin.substr(7);
    } else if (origin.starts_with("https://")) {
        rest = origin.substr(8);
    } else {
        return "a CORS origin starts with http:// or https:// (e.g. https://app.example.com)";
    }
    std::string_view host = rest;
    std::string_view port;
    if (rest.starts_with('[')) {  // an IPv6 literal
        const auto close = rest.find(']');
        if (close == std::string_view::npos) {
            return "a CORS origin's IPv6 host ends with ]";
        }
        host = rest.substr(1, close - 1);
        const auto after = rest.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) {
            return "a CORS origin is scheme://host[:port], with no path or query";
        }
        port = after.empty() ? after : after.substr(1);
        const bool ok = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
        });
        if (!ok) {
            return "a CORS origin's IPv6 host is lowercase hex digits and colons";
        }
    } else {
        const auto colon = rest.find(':');
        host = rest.substr(0, colon);
        port = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
        if (host.empty() || !std::all_of(host.begin(), host.end(), host_char)) {
            return "a CORS origin is scheme://host[:port] with a lowercase host (as browsers send "
                   "it) and no path, query, user or trailing slash";
        }
    }
    if (port.size() > 5 || (port.empty() && origin.back() == ':') ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return "a CORS origin's port is a number, with no path after it";
    }
    return {};
}

std::string add_cors_origins(std::string_view list, std::vector<std::string>& out) {
    for (;;) {
        const auto comma = list.find(',');
        const auto one = list.substr(0, comma);
        if (auto why = cors_origin_problem(one); !why.empty()) {
            return std::string(one) + ": " + why;
        }
        out.emplace_back(one);
        if (comma == std::string_view::npos) {
            return {};
        }
        list.remove_prefix(comma + 1);
    }
}

std::string read_cors_origins(const boost::json::value& value, std::vector<std::string>& out) {
    if (!value.is_array()) {
        return "must be an array of origins";
    }
    for (const auto& v : value.get_array()) {
        if (!v.is_string()) {
            return "must be an array of origins (strings)";
        }
        if (auto why = cors_origin_problem(v.get_string()); !why.empty()) {
            return std::string(v.get_string()) + ": " + why;
        }
        out.emplace_back(v.get_string());
    }
    return {};
}

Cors::Cors(std::vector<std::string> origins) : origins_(std::move(origins)) {}

bool Cors::allows(std::string_view origin) const {
    return !origin.empty() && std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
}

std::optional<ApiResponse> Cors::preflight(const ApiRequest& req) const {
    if (!enabled() || req.method != "OPTIONS" || req.origin.empty() ||
        req.cors_request_method.empty()) {
        return std::nullopt;
    }
    if (!allows(req.origin)) {
        // The origin is not echoed back: it is whatever the client put there.
        return Api::error(403, "cross-origin requests from this origin are not allowed",
                          request_id_for(req.request_id));
    }
    ApiResponse r;
    r.status = 204;
    r.content_type = {};
    r.request_id = request_id_for(req.request_id);
    r.headers.emplace_back("Access-Control-Allow-Methods", std::string(kAllowMethods));
    r.headers.emplace_back("Access-Control-Allow-Headers", std::string(kAllowHeaders));
    r.headers.emplace_back("Access-Control-Max-Age", std::string(kMaxAge));
    return r;
}

void Cors::decorate(std::string_view origin, ApiResponse& r) const {
    if (!enabled()) {
        return;
    }
    // Caches keep answers apart by Origin, whichever origin (or none) asked first.
    r.headers.emplace_back("Vary", "Origin");
    if (!allows(origin)) {
        return;
    }
    r.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    r.headers.emplace_back("Access-Control-Expose-Headers", std::string(kExposeHeaders));
}

}  // namespace forkrun::http
