// Request routing, auth and body decoding through the API's entry point (http/api.hpp), without
// sockets: each input is a short session against a fresh Controller (default configuration) on
// its own io_context, which is shut down (every run cancelled) before the next input.
//
// Input: up to 8 requests separated by lines "%%". A request is a line "METHOD TARGET", header
// lines "Name: value" (Authorization, Content-Type, X-Request-Id; others are ignored), an empty
// line, then the body. "{id}" in a target or body stands for the run the session created last.
// Tokens: "tok-rw" (read+write), "tok-r" (read), "tok-w" (write), all of org_a; "tok-b"
// (read+write) of org_b. Long polls are capped at 2 ms, and "&timeoutMs=1" ends every query so
// that one without timeoutMs does not wait its 30 s default.
//
// Requests Beast would refuse before the API sees them (a method that is not a token, control
// characters in the target or a header) are dropped.
//
// Checks: nothing throws or crashes; every answer is a JSON envelope whose code is the HTTP
// status, with a message, the request id (the caller's when it is a valid one) and the headers
// its status promises (Allow, WWW-Authenticate, Location); and handling always finishes.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "controller/controller.hpp"
#include "fuzz/check.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/request_body.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace forkrun;
using namespace forkrun::http;

constexpr std::size_t kMaxRequests = 8;

struct RawRequest {
    std::string_view method;
    std::string_view target;
    std::string_view authorization;
    std::string_view content_type;
    std::string_view request_id;
    std::string_view body;
};

const TokenStore& tokens() {
    static const TokenStore* store = [] {
        auto* t = new TokenStore;
        t->add("tok-rw", {{"org_a", "alice"}, kRunsRead | kRunsWrite});
        t->add("tok-r", {{"org_a", "reader"}, kRunsRead});
        t->add("tok-w", {{"org_a", "writer"}, kRunsWrite});
        t->add("tok-b", {{"org_b", "bob"}, kRunsRead | kRunsWrite});
        return t;
    }();
    return *store;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

// Splits off the next line of `s` (without its '\n').
std::string_view next_line(std::string_view& s) {
    const auto nl = s.find('\n');
    const auto line = s.substr(0, nl);
    s = nl == std::string_view::npos ? std::string_view() : s.substr(nl + 1);
    return line;
}

RawRequest parse_request(std::string_view text) {
    RawRequest r;
    std::string_view first = trim(next_line(text));
    const auto space = first.find(' ');
    r.method = first.substr(0, space);
    r.target = space == std::string_view::npos ? std::string_view() : trim(first.substr(space));
    while (!text.empty()) {
        const std::string_view line = trim(next_line(text));
        if (line.empty()) {
            break;
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const std::string_view name = trim(line.substr(0, colon));
        const std::string_view value = trim(line.substr(colon + 1));
        if (iequals_ascii(name, "authorization")) {
            r.authorization = value;
        } else if (iequals_ascii(name, "content-type")) {
            r.content_type = value;
        } else if (iequals_ascii(name, "x-request-id")) {
            r.request_id = value;
        }
    }
    r.body = text;
    return r;
}

// What Beast's parser lets through: a method is a token, a target has no control characters,
// spaces or DEL (bytes >= 0x80 pass), header values have no control characters but tab.
bool beast_would_accept(const RawRequest& r) {
    auto token = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    };
    auto ctl = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; };
    if (r.method.empty() || !std::all_of(r.method.begin(), r.method.end(), token)) {
        return false;
    }
    if (r.target.empty() ||
        std::any_of(r.target.begin(), r.target.end(), [&](char c) { return ctl(c) || c == ' '; })) {
        return false;
    }
    for (std::string_view v : {r.authorization, r.content_type, r.request_id}) {
        if (std::any_of(v.begin(), v.end(), [&](char c) { return ctl(c) && c != '\t'; })) {
            return false;
        }
    }
    return true;
}

std::vector<RawRequest> parse_session(std::string_view input) {
    std::vector<RawRequest> out;
    constexpr std::string_view kSeparator = "\n%%\n";
    while (out.size() < kMaxRequests) {
        const auto sep = input.find(kSeparator);
        if (RawRequest r = parse_request(input.substr(0, sep)); beast_would_accept(r)) {
            out.push_back(r);
        }
        if (sep == std::string_view::npos) {
            break;
        }
        input = input.substr(sep + kSeparator.size());
    }
    return out;
}

std::string with_id(std::string_view s, const std::string& id) {
    std::string out;
    for (;;) {
        const auto at = s.find("{id}");
        out.append(s.substr(0, at));
        if (at == std::string_view::npos) {
            return out;
        }
        out.append(id);
        s.remove_prefix(at + 4);
    }
}

bool has_header(const ApiResponse& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
        if (n == name && !v.empty()) {
            return true;
        }
    }
    return false;
}

bool valid_request_id(std::string_view s) {
    if (s.empty() || s.size() > 128) {
        return false;
    }
    for (char c : s) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

void check_response(const ApiRequest& req, const ApiResponse& r) {
    const unsigned s = r.status;
    FUZZ_CHECK(s == 200 || s == 201 || s == 400 || s == 401 || s == 403 || s == 404 || s == 405 ||
                   s == 409 || s == 415,
               "a status of the contract");
    boost::system::error_code ec;
    const json::value body = json::parse(r.body, ec);
    FUZZ_CHECK(!ec && body.is_object(), "the body is a JSON object");
    const json::object& o = body.get_object();
    const auto* code = o.if_contains("code");
    FUZZ_CHECK(code && code->is_number() && code->to_number<std::uint64_t>(ec) == s && !ec,
               "code is the HTTP status");
    const auto* data = o.if_contains("data");
    FUZZ_CHECK(data && (data->is_object() || data->is_null()), "data is an object or null");
    const auto* message = o.if_contains("message");
    FUZZ_CHECK(message && message->is_string() && !message->get_string().empty(), "a message");
    FUZZ_CHECK((s < 300) == (message->get_string() == "success"), "success iff 2xx");
    const auto* rid = o.if_contains("requestId");
    FUZZ_CHECK(rid && rid->is_string() && rid->get_string() == r.request_id,
               "requestId is the response's request id");
    FUZZ_CHECK(valid_request_id(r.request_id), "request ids are URL-safe");
    if (valid_request_id(req.request_id)) {
        FUZZ_CHECK(r.request_id == req.request_id, "a valid X-Request-Id is kept");
    }
    if (s == 405) {
        FUZZ_CHECK(has_header(r, "Allow"), "405 says what is allowed");
    }
    if (s == 401) {
        FUZZ_CHECK(has_header(r, "WWW-Authenticate"), "401 says how to authenticate");
    }
    if (s == 201) {
        FUZZ_CHECK(has_header(r, "Location"), "201 says where the run is");
    }
    if (s == 400) {
        const auto* errors =
            data && data->is_object() ? data->get_object().if_contains("errors") : nullptr;
        FUZZ_CHECK(errors && errors->is_array() && !errors->get_array().empty(),
                   "400 lists its problems");
    }
}

asio::awaitable<void> session(Api& api,
                              controller::Controller& ctl,
                              const std::vector<RawRequest>& requests) {
    std::string last_id = "run_000000000000000000000000";
    for (const RawRequest& raw : requests) {
        std::string target = with_id(raw.target, last_id);
        if (target.find('?') != std::string::npos) {
            // A long poll without timeoutMs waits 30 s by design; the last timeoutMs counts.
            target += "&timeoutMs=1";
        }
        const std::string body = with_id(raw.body, last_id);
        ApiRequest req;
        req.method = raw.method;
        req.target = target;
        req.authorization = raw.authorization;
        req.content_type = raw.content_type;
        req.request_id = raw.request_id;
        req.body = body;
        ApiResponse resp = co_await api.handle(req);
        check_response(req, resp);
        if (resp.status == 201) {
            for (const auto& [name, value] : resp.headers) {
                if (name == "Location") {
                    last_id = value.substr(value.rfind('/') + 1);
                }
            }
        }
    }
    co_await ctl.shutdown();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::vector<RawRequest> requests =
        parse_session(std::string_view(reinterpret_cast<const char*>(data), size));
    asio::io_context io;
    controller::Controller ctl(controller::ControllerConfig{}, io.get_executor());
    ApiOptions options;
    options.max_long_poll = std::chrono::milliseconds(2);
    Api api(ctl, tokens(), options);
    bool finished = false;
    std::exception_ptr failure;
    asio::co_spawn(io, session(api, ctl, requests), [&](std::exception_ptr e) {
        failure = e;
        finished = true;
    });
    io.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
    FUZZ_CHECK(finished, "the session finishes");
    FUZZ_CHECK(ctl.active_runs() == 0, "shutdown leaves no active run");
    return 0;
}
