// libcurl requests of the client commands: headers collected, bodies read, SSE split into events.
#include "app/cli_http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cctype>
#include <memory>

namespace forkrun::app {

namespace json = boost::json;

namespace {

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using Easy = std::unique_ptr<CURL, CurlDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// What a transfer collects: the body (or, for a stream, the events), and the headers.
struct Transfer {
    ClientResponse* out = nullptr;
    const std::function<bool(const SseEvent&)>* on_event = nullptr;
    std::string pending;  // a stream's bytes not yet a whole line
    SseEvent event;
    bool stopped = false;  // on_event asked to stop

    // One line of an event stream (without its end of line).
    void line(std::string_view l) {
        if (l.empty()) {
            if (!event.event.empty() || !event.data.empty()) {
                if (!(*on_event)(event)) {
                    stopped = true;
                }
            }
            event = {};
            return;
        }
        if (l.front() == ':') {
            return;  // a comment (ping)
        }
        const auto colon = l.find(':');
        const auto field = l.substr(0, colon);
        auto value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        if (field == "id") {
            event.id = value;
        } else if (field == "event") {
            event.event = value;
        } else if (field == "data") {
            if (!event.data.empty()) {
                event.data.push_back('\n');
            }
            event.data.append(value);
        }
    }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t len = size * n;
    if (!t->on_event || t->out->status != 200) {
        t->out->body.append(data, len);
        return len;
    }
    t->pending.append(data, len);
    std::size_t start = 0;
    for (auto nl = t->pending.find('\n'); nl != std::string::npos;
         nl = t->pending.find('\n', start)) {
        std::string_view l(t->pending.data() + start, nl - start);
        if (!l.empty() && l.back() == '\r') {
            l.remove_suffix(1);
        }
        t->line(l);
        start = nl + 1;
        if (t->stopped) {
            return 0;  // ends the transfer
        }
    }
    t->pending.erase(0, start);
    return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t len = size * n;
    std::string_view h(data, len);
    if (h.starts_with("HTTP/")) {
        t->out->headers.clear();  // a new response (after a 100 Continue)
        const auto sp = h.find(' ');
        t->out->status = sp == std::string_view::npos ? 0 : std::atol(h.data() + sp + 1);
        return len;
    }
    const auto colon = h.find(':');
    if (colon == std::string_view::npos) {
        return len;
    }
    std::string name(h.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto value = h.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
    }
    t->out->headers.emplace_back(std::move(name), std::string(value));
    return len;
}

}  // namespace

std::string url_escape(const std::string& s) {
    char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
    std::string out = e ? e : "";
    curl_free(e);
    return out;
}

std::optional<json::object> data_object(const ClientResponse& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object()) {
        return std::nullopt;
    }
    auto* d = v.get_object().if_contains("data");
    if (!d || !d->is_object()) {
        return std::nullopt;
    }
    return std::move(d->get_object());
}

std::string ClientResponse::header(const std::string& lower_name) const {
    for (const auto& [k, v] : headers) {
        if (k == lower_name) {
            return v;
        }
    }
    return {};
}

ApiClient::ApiClient(std::string server, std::string token)
    : server_(std::move(server)), token_(std::move(token)) {
    while (!server_.empty() && server_.back() == '/') {
        server_.pop_back();
    }
}

namespace {

ClientResponse perform(const std::string& url,
                       const std::string& method,
                       const std::optional<std::string>& body,
                       const std::vector<std::string>& headers,
                       std::chrono::milliseconds timeout,
                       const std::function<bool(const SseEvent&)>* on_event) {
    ClientResponse out;
    Easy easy(curl_easy_init());
    if (!easy) {
        out.error = "libcurl could not start a request";
        return out;
    }
    CURL* c = easy.get();
    Slist list;
    for (const auto& h : headers) {
        list.reset(curl_slist_append(list.release(), h.c_str()));
    }
    Transfer t;
    t.out = &out;
    t.on_event = on_event;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "forkrun-cli/" FORKRUN_VERSION);
    if (timeout.count() > 0) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    }
    const std::string& payload = body ? *body : std::string();
    if (method == "POST") {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
    } else if (method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.stopped)) {
        out.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        out.error = curl_easy_strerror(rc);
    }
    return out;
}

}  // namespace

ClientResponse ApiClient::send(const std::string& method,
                               const std::string& path,
                               const std::optional<std::string>& body,
                               const std::vector<std::string>& extra,
                               std::chrono::milliseconds timeout) const {
    std::vector<std::string> headers = extra;
    if (!token_.empty()) {
        headers.push_back("Authorization: Bearer " + token_);
    }
    if (body) {
        headers.emplace_back("Content-Type: application/json");
    }
    headers.emplace_back("Expect:");  // no 100-continue round trip
    return perform(server_ + path, method, body, headers, timeout, nullptr);
}

ClientResponse ApiClient::stream(const std::string& path,
                                 const std::vector<std::string>& extra,
                                 std::chrono::milliseconds timeout,
                                 const std::function<bool(const SseEvent&)>& on_event) const {
    std::vector<std::string> headers = extra;
    if (!token_.empty()) {
        headers.push_back("Authorization: Bearer " + token_);
    }
    headers.emplace_back("Accept: text/event-stream");
    return perform(server_ + path, "GET", std::nullopt, headers, timeout, &on_event);
}

}  // namespace forkrun::app
