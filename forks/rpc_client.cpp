// The libcurl multi loop behind RpcClient, and the JSON-RPC framing of its replies.
#include "forks/rpc_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

namespace forkrun::forks {
namespace detail {

struct EasyDeleter {
    void operator()(CURL* e) const noexcept { curl_easy_cleanup(e); }
};
struct MultiDeleter {
    void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
struct UrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
    void operator()(char* s) const noexcept { curl_free(s); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using MultiPtr = std::unique_ptr<CURLM, MultiDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

/// How an HTTP exchange ended, before any JSON-RPC meaning is given to it.
struct Outcome {
    enum class Kind { kReply, kTransport, kTimeout, kAborted, kTooLarge };
    Kind kind = Kind::kReply;
    int http_status = 0;
    std::string body;
    std::string detail;  // For kTransport and kTimeout: what went wrong, naming host:port.
    std::string endpoint;
};

Outcome make_outcome(Outcome::Kind kind, std::string detail = {}) {
    Outcome o;
    o.kind = kind;
    o.detail = std::move(detail);
    return o;
}

struct Transfer;

struct CallState {
    std::weak_ptr<ClientCore> core;
    std::atomic<bool> abort_requested{false};
    Transfer* transfer = nullptr;  // I/O thread only: set while the transfer is in the multi.
};

struct Transfer {
    std::shared_ptr<CallState> state;
    std::string url;
    std::string request_body;
    std::chrono::milliseconds timeout{0};
    std::function<void(Outcome)> finish;
    EasyPtr easy;
    std::string response;
    std::size_t max_bytes = 0;
    bool too_large = false;
    bool local = false;  // Completes on the I/O thread without any HTTP exchange.
    char error_buffer[CURL_ERROR_SIZE] = {};
};

struct ClientCore : std::enable_shared_from_this<ClientCore> {
    RpcClientOptions options;
    MultiPtr multi;
    SlistPtr headers;
    std::atomic<std::uint64_t> next_id{1};

    std::mutex mutex;
    std::vector<std::unique_ptr<Transfer>> submitted;  // Guarded by mutex.
    std::vector<std::shared_ptr<CallState>> aborts;    // Guarded by mutex.
    bool stopping = false;                             // Guarded by mutex.

    // I/O thread only.
    std::unordered_map<Transfer*, std::unique_ptr<Transfer>> active;
    std::vector<EasyPtr> idle;

    void wake() noexcept { curl_multi_wakeup(multi.get()); }
    CallHandle submit(std::string url,
                      std::string body,
                      std::chrono::milliseconds timeout,
                      std::function<void(Outcome)> finish,
                      bool local = false,
                      std::size_t max_bytes = 0);
    void run();

  private:
    void start(std::unique_ptr<Transfer> t);
    void finish(Transfer* t, Outcome outcome);
    void finish_unstarted(std::unique_ptr<Transfer> t, Outcome outcome);
    Outcome outcome_of(Transfer& t, CURLcode rc);
    void reap();
    void abort_all();
};

namespace {

void ensure_curl_global_init() {
    static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        throw std::runtime_error(std::string("libcurl initialisation failed: ") +
                                 curl_easy_strerror(rc));
    }
}

/// "host:port" of a URL, never its path or query (which may hold an API key).
std::string endpoint_of(const std::string& url) {
    UrlPtr u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
        return "invalid URL";
    }
    char* host = nullptr;
    char* port = nullptr;
    curl_url_get(u.get(), CURLUPART_HOST, &host, 0);
    curl_url_get(u.get(), CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    CurlString host_s(host);
    CurlString port_s(port);
    std::string out = host ? host : "?";
    if (port) {
        out += ':';
        out += port;
    }
    return out;
}

void invoke_safely(const std::function<void(Outcome)>& f, Outcome o) noexcept {
    try {
        f(std::move(o));
    } catch (...) {
        // A callback must not throw; dropping the exception keeps the I/O thread serving others.
    }
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t len = size * n;
    if (t->response.size() + len > t->max_bytes) {
        t->too_large = true;
        return 0;
    }
    t->response.append(data, len);
    return len;
}

}  // namespace

CallHandle ClientCore::submit(std::string url,
                              std::string body,
                              std::chrono::milliseconds timeout,
                              std::function<void(Outcome)> finish,
                              bool local,
                              std::size_t max_bytes) {
    auto state = std::make_shared<CallState>();
    state->core = weak_from_this();
    auto t = std::make_unique<Transfer>();
    t->local = local;
    t->state = state;
    t->url = std::move(url);
    t->request_body = std::move(body);
    t->timeout = std::max(timeout, std::chrono::milliseconds(1));
    t->finish = std::move(finish);
    t->max_bytes = max_bytes != 0 ? max_bytes : options.max_response_bytes;
    {
        std::lock_guard lock(mutex);
        submitted.push_back(std::move(t));
    }
    wake();
    return CallHandle(std::move(state));
}

void ClientCore::finish_unstarted(std::unique_ptr<Transfer> t, Outcome outcome) {
    outcome.endpoint = endpoint_of(t->url);
    invoke_safely(t->finish, std::move(outcome));
}

void ClientCore::start(std::unique_ptr<Transfer> t) {
    if (t->state->abort_requested.load()) {
        finish_unstarted(std::move(t), make_outcome(Outcome::Kind::kAborted));
        return;
    }
    if (t->local) {
        finish_unstarted(std::move(t), make_outcome(Outcome::Kind::kReply));
        return;
    }
    if (!idle.empty()) {
        t->easy = std::move(idle.back());
        idle.pop_back();
        curl_easy_reset(t->easy.get());
    } else {
        t->easy.reset(curl_easy_init());
    }
    if (!t->easy) {
        finish_unstarted(std::move(t),
                         make_outcome(Outcome::Kind::kTransport, "cannot create a libcurl handle"));
        return;
    }
    CURL* e = t->easy.get();
    const long timeout_ms = static_cast<long>(t->timeout.count());
    const long connect_ms =
        static_cast<long>(std::min(t->timeout, options.connect_timeout).count());
    curl_easy_setopt(e, CURLOPT_URL, t->url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->request_body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request_body.data());
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t->max_bytes));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error_buffer);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());

    const CURLMcode mc = curl_multi_add_handle(multi.get(), e);
    if (mc != CURLM_OK) {
        Outcome o =
            make_outcome(Outcome::Kind::kTransport,
                         std::string("cannot start the request: ") + curl_multi_strerror(mc));
        idle.push_back(std::move(t->easy));
        finish_unstarted(std::move(t), std::move(o));
        return;
    }
    t->state->transfer = t.get();
    Transfer* raw = t.get();
    active.emplace(raw, std::move(t));
}

Outcome ClientCore::outcome_of(Transfer& t, CURLcode rc) {
    Outcome o;
    o.endpoint = endpoint_of(t.url);
    long status = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
    o.http_status = static_cast<int>(status);
    if (rc == CURLE_OK) {
        o.kind = Outcome::Kind::kReply;
        o.body = std::move(t.response);
        return o;
    }
    if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        o.kind = Outcome::Kind::kTooLarge;
        return o;
    }
    long os_errno = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_OS_ERRNO, &os_errno);
    const std::string where = " (" + o.endpoint + ")";
    o.kind = Outcome::Kind::kTransport;
    switch (rc) {
        case CURLE_OPERATION_TIMEDOUT: {
            o.kind = Outcome::Kind::kTimeout;
            curl_off_t connected_us = 0;
            curl_easy_getinfo(t.easy.get(), CURLINFO_CONNECT_TIME_T, &connected_us);
            const long limit_ms = static_cast<long>(
                connected_us > 0 ? t.timeout.count()
                                 : std::min(t.timeout, options.connect_timeout).count());
            o.detail = (connected_us > 0 ? "no reply within " : "no connection within ") +
                       std::to_string(limit_ms) + " ms" + where;
            break;
        }
        case CURLE_COULDNT_CONNECT:
            if (os_errno == ECONNREFUSED) {
                o.detail = "connection refused" + where;
            } else if (os_errno != 0) {
                o.detail = std::string("cannot connect: ") +
                           std::strerror(static_cast<int>(os_errno)) + where;
            } else {
                o.detail = "cannot connect" + where;
            }
            break;
        case CURLE_COULDNT_RESOLVE_HOST:
            o.detail = "cannot resolve host" + where;
            break;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            o.detail = "the RPC URL is not a valid http(s) URL";
            break;
        case CURLE_GOT_NOTHING:
            o.detail = "the server closed the connection without replying" + where;
            break;
        default: {
            const std::string what =
                t.error_buffer[0] != '\0' ? t.error_buffer : curl_easy_strerror(rc);
            o.detail = what + where;
            break;
        }
    }
    return o;
}

void ClientCore::finish(Transfer* raw, Outcome outcome) {
    auto it = active.find(raw);
    if (it == active.end()) {
        return;
    }
    std::unique_ptr<Transfer> t = std::move(it->second);
    active.erase(it);
    curl_multi_remove_handle(multi.get(), t->easy.get());
    t->state->transfer = nullptr;
    if (idle.size() < options.max_idle_handles) {
        idle.push_back(std::move(t->easy));
    }
    invoke_safely(t->finish, std::move(outcome));
}

void ClientCore::reap() {
    std::vector<std::pair<Transfer*, CURLcode>> done;
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi.get(), &queued)) {
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        char* priv = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        done.emplace_back(reinterpret_cast<Transfer*>(priv), m->data.result);
    }
    for (auto [t, rc] : done) {
        finish(t, outcome_of(*t, rc));
    }
}

void ClientCore::abort_all() {
    while (!active.empty()) {
        Transfer* t = active.begin()->first;
        Outcome o = make_outcome(Outcome::Kind::kAborted);
        o.endpoint = endpoint_of(t->url);
        finish(t, std::move(o));
    }
}

void ClientCore::run() {
    for (;;) {
        std::vector<std::unique_ptr<Transfer>> incoming;
        std::vector<std::shared_ptr<CallState>> aborting;
        bool stop = false;
        {
            std::lock_guard lock(mutex);
            incoming.swap(submitted);
            aborting.swap(aborts);
            stop = stopping;
        }
        if (stop) {
            abort_all();
            for (auto& t : incoming) {
                finish_unstarted(std::move(t), make_outcome(Outcome::Kind::kAborted));
            }
            std::lock_guard lock(mutex);
            if (submitted.empty()) {
                return;
            }
            continue;
        }
        for (auto& t : incoming) {
            start(std::move(t));
        }
        for (auto& s : aborting) {
            if (s->transfer != nullptr) {
                Outcome o = make_outcome(Outcome::Kind::kAborted);
                o.endpoint = endpoint_of(s->transfer->url);
                finish(s->transfer, std::move(o));
            }
        }
        int running = 0;
        curl_multi_perform(multi.get(), &running);
        reap();
        curl_multi_poll(multi.get(), nullptr, 0, 1000, nullptr);
    }
}

}  // namespace detail

void CallHandle::abort() const noexcept {
    if (!state_ || state_->abort_requested.exchange(true)) {
        return;
    }
    std::shared_ptr<detail::ClientCore> core = state_->core.lock();
    if (!core) {
        return;
    }
    try {
        std::lock_guard lock(core->mutex);
        core->aborts.push_back(state_);
    } catch (...) {
        // Out of memory: the transfer still ends at its timeout.
    }
    core->wake();
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC framing.

namespace {

using detail::Outcome;

std::string label_of(const std::string& chain, std::string_view method) {
    std::string out;
    if (!chain.empty()) {
        out = chain;
        out += ": ";
    }
    out += method;
    return out;
}

std::string describe_limit(std::size_t bytes) {
    constexpr std::size_t kMiB = 1024 * 1024;
    if (bytes >= kMiB && bytes % kMiB == 0) {
        return std::to_string(bytes / kMiB) + " MiB";
    }
    return std::to_string(bytes) + " bytes";
}

/// A printable excerpt of a body for an error message.
std::string excerpt(std::string_view body) {
    constexpr std::size_t kMax = 200;
    std::string out;
    for (char c : body.substr(0, kMax)) {
        out += (c >= 0x20 && c < 0x7f) ? c : ' ';
    }
    if (body.size() > kMax) {
        out += "...";
    }
    return out;
}

RpcError make_error(RpcErrc code, std::string message, int http_status = 0) {
    RpcError e;
    e.code = code;
    e.message = std::move(message);
    e.http_status = http_status;
    return e;
}

/// The error for an exchange that produced no usable HTTP reply, or nullopt.
std::optional<RpcError> transport_error(const Outcome& o,
                                        const std::string& label,
                                        std::size_t limit) {
    switch (o.kind) {
        case Outcome::Kind::kReply:
            return std::nullopt;
        case Outcome::Kind::kTransport:
            return make_error(RpcErrc::kTransport, label + ": " + o.detail);
        case Outcome::Kind::kTimeout:
            return make_error(RpcErrc::kTimeout, label + ": " + o.detail);
        case Outcome::Kind::kAborted:
            return make_error(RpcErrc::kAborted, label + ": aborted");
        case Outcome::Kind::kTooLarge:
            return make_error(RpcErrc::kBadResponse,
                              label + ": response from " + o.endpoint + " is larger than the " +
                                  describe_limit(limit) + " limit",
                              o.http_status);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> id_of(const boost::json::value& v) {
    boost::system::error_code ec;
    auto n = v.to_number<std::uint64_t>(ec);
    if (ec) {
        return std::nullopt;
    }
    return n;
}

/// Gives meaning to one JSON-RPC reply object.
RpcResult interpret_reply(const boost::json::value& reply,
                          const std::string& label,
                          int http_status) {
    const auto* obj = reply.if_object();
    if (obj == nullptr) {
        return make_error(RpcErrc::kBadResponse,
                          label + ": response is not a JSON-RPC reply (not an object)",
                          http_status);
    }
    if (const auto* err = obj->if_contains("error"); err != nullptr && !err->is_null()) {
        const auto* eo = err->if_object();
        const auto* code = eo ? eo->if_contains("code") : nullptr;
        const auto* msg = eo ? eo->if_contains("message") : nullptr;
        boost::system::error_code ec;
        std::int64_t code_n = code ? code->to_number<std::int64_t>(ec) : 0;
        if (eo == nullptr || code == nullptr || ec || msg == nullptr || !msg->is_string()) {
            return make_error(RpcErrc::kBadResponse,
                              label + ": response has a malformed JSON-RPC error object",
                              http_status);
        }
        RpcError e = make_error(RpcErrc::kRpcError,
                                label + " failed: " + std::string(msg->as_string()) +
                                    " (JSON-RPC error " + std::to_string(code_n) + ")",
                                http_status);
        e.rpc_code = code_n;
        if (const auto* data = eo->if_contains("data")) {
            e.rpc_data = *data;
        }
        return e;
    }
    if (const auto* result = obj->if_contains("result")) {
        return *result;
    }
    return make_error(RpcErrc::kBadResponse,
                      label + ": response is not a JSON-RPC reply (neither result nor error)",
                      http_status);
}

/// Parses a reply body, or says why it cannot be used.
boost::system::result<boost::json::value, RpcError> parse_body(int http_status,
                                                               std::string_view body,
                                                               std::string_view endpoint,
                                                               const std::string& label) {
    const bool ok_status = http_status >= 200 && http_status < 300;
    boost::json::parse_options opts;
    opts.max_depth = 1024;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec, {}, opts);
    if (!ok_status) {
        std::string msg = label + ": HTTP " + std::to_string(http_status) + " from ";
        msg += endpoint;
        RpcError e = make_error(RpcErrc::kHttpStatus, "", http_status);
        if (!ec) {
            // Providers often explain a 4xx/5xx (rate limits, bad keys) in a JSON-RPC error.
            const auto* obj = v.if_object();
            const auto* err = obj ? obj->if_contains("error") : nullptr;
            const auto* eo = err ? err->if_object() : nullptr;
            const auto* m = eo ? eo->if_contains("message") : nullptr;
            if (m != nullptr && m->is_string()) {
                msg += ": " + std::string(m->as_string());
                boost::system::error_code cec;
                if (const auto* c = eo->if_contains("code")) {
                    e.rpc_code = c->to_number<std::int64_t>(cec);
                }
            }
        } else if (!body.empty()) {
            msg += ": " + excerpt(body);
        }
        e.message = std::move(msg);
        return e;
    }
    if (ec) {
        return make_error(RpcErrc::kBadResponse,
                          label + ": response is not JSON (" + ec.message() + "): " + excerpt(body),
                          http_status);
    }
    if (auto at = non_finite_number_at(v)) {
        return make_error(RpcErrc::kBadResponse,
                          label + ": response holds a number out of range at \"" + *at + "\"",
                          http_status);
    }
    return v;
}

}  // namespace

std::optional<std::string> non_finite_number_at(const boost::json::value& v) {
    // An explicit stack and one pointer grown and cut back in place: replies may nest deeply.
    struct Frame {
        const boost::json::value* container;
        std::size_t next;
        std::size_t path_size;
    };
    std::string path;
    std::vector<Frame> frames;
    auto visit = [&](const boost::json::value& child) {
        if (const double* d = child.if_double()) {
            return !std::isfinite(*d);
        }
        if (child.is_object() || child.is_array()) {
            frames.push_back({&child, 0, path.size()});
        }
        return false;
    };
    if (visit(v)) {
        return path;
    }
    while (!frames.empty()) {
        Frame& frame = frames.back();
        path.resize(frame.path_size);
        path.push_back('/');
        if (const auto* o = frame.container->if_object(); o && frame.next < o->size()) {
            const auto& entry = o->begin()[frame.next++];
            for (char c : entry.key()) {
                path.append(c == '~' ? "~0" : c == '/' ? "~1" : std::string_view(&c, 1));
            }
            if (visit(entry.value())) {
                return path;
            }
        } else if (const auto* a = frame.container->if_array(); a && frame.next < a->size()) {
            const std::size_t index = frame.next++;
            path.append(std::to_string(index));
            if (visit((*a)[index])) {
                return path;
            }
        } else {
            frames.pop_back();
        }
    }
    return std::nullopt;
}

RpcResult read_call_reply(int http_status,
                          std::string_view body,
                          std::uint64_t id,
                          const std::string& label,
                          std::string_view endpoint) {
    auto parsed = parse_body(http_status, body, endpoint, label);
    if (!parsed) {
        return parsed.error();
    }
    const boost::json::value& reply = *parsed;
    if (const auto* obj = reply.if_object()) {
        const auto* rid = obj->if_contains("id");
        if (rid != nullptr && !rid->is_null() && id_of(*rid) != id && obj->contains("result")) {
            return make_error(RpcErrc::kBadResponse,
                              label + ": response id does not match the request id", http_status);
        }
    }
    return interpret_reply(reply, label, http_status);
}

std::vector<RpcResult> read_batch_reply(int http_status,
                                        std::string_view body,
                                        std::uint64_t first_id,
                                        const std::vector<std::string>& labels,
                                        const std::string& batch_label,
                                        std::string_view endpoint) {
    const std::size_t n = labels.size();
    std::vector<RpcResult> out;
    out.reserve(n);
    auto fail_all = [&](auto&& make) {
        for (std::size_t i = 0; i < n; ++i) {
            out.emplace_back(make(labels[i]));
        }
        return std::move(out);
    };
    auto parsed = parse_body(http_status, body, endpoint, batch_label);
    if (!parsed) {
        return fail_all([&](const std::string& l) {
            RpcError e = parsed.error();
            e.message = l + e.message.substr(batch_label.size());
            return e;
        });
    }
    const boost::json::value& reply = *parsed;
    const auto* arr = reply.if_array();
    if (arr == nullptr) {
        // A server that rejects the whole batch answers with a single error object.
        const auto* obj = reply.if_object();
        if (obj != nullptr && obj->contains("error")) {
            return fail_all([&](const std::string& l) {
                return interpret_reply(reply, l, http_status).error();
            });
        }
        return fail_all([&](const std::string& l) {
            return make_error(RpcErrc::kBadResponse, l + ": batch response is not a JSON array",
                              http_status);
        });
    }
    std::vector<const boost::json::value*> by_index(n, nullptr);
    for (const auto& element : *arr) {
        const auto* obj = element.if_object();
        const auto* rid = obj ? obj->if_contains("id") : nullptr;
        const auto id = rid ? id_of(*rid) : std::nullopt;
        if (id && *id >= first_id && *id - first_id < n && !by_index[*id - first_id]) {
            by_index[*id - first_id] = &element;
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (by_index[i] == nullptr) {
            out.emplace_back(make_error(
                RpcErrc::kBadResponse,
                labels[i] + ": the batch response has no reply for this call", http_status));
        } else {
            out.push_back(interpret_reply(*by_index[i], labels[i], http_status));
        }
    }
    return out;
}

RpcClient::RpcClient(RpcClientOptions options) {
    detail::ensure_curl_global_init();
    core_ = std::make_shared<detail::ClientCore>();
    core_->options = options;
    core_->multi.reset(curl_multi_init());
    if (!core_->multi) {
        throw std::runtime_error("cannot create a libcurl multi handle");
    }
    curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
    if (h != nullptr) {
        core_->headers.reset(h);
        h = curl_slist_append(h, "Accept: application/json");
    }
    if (h != nullptr) {
        h = curl_slist_append(h, "Expect:");
    }
    if (h == nullptr) {
        throw std::runtime_error("cannot build the JSON-RPC request headers");
    }
    thread_ = std::thread([core = core_] { core->run(); });
}

RpcClient::~RpcClient() {
    {
        std::lock_guard lock(core_->mutex);
        core_->stopping = true;
    }
    core_->wake();
    thread_.join();
}

CallHandle RpcClient::call(RpcRequest request, std::function<void(RpcResult)> on_done) {
    const std::uint64_t id = core_->next_id.fetch_add(1);
    boost::json::object body;
    body["jsonrpc"] = "2.0";
    body["id"] = id;
    body["method"] = request.method;
    body["params"] = std::move(request.params);
    std::string label = label_of(request.chain, request.method);
    const std::size_t limit =
        request.max_response_bytes != 0
            ? std::min(request.max_response_bytes, core_->options.max_response_bytes)
            : core_->options.max_response_bytes;
    auto finish = [label = std::move(label), limit, id, on_done = std::move(on_done)](Outcome o) {
        if (auto e = transport_error(o, label, limit)) {
            on_done(std::move(*e));
            return;
        }
        on_done(read_call_reply(o.http_status, o.body, id, label, o.endpoint));
    };
    return core_->submit(std::move(request.url), boost::json::serialize(body), request.timeout,
                         std::move(finish), false, limit);
}

CallHandle RpcClient::batch(std::string url,
                            std::vector<RpcCallSpec> calls,
                            std::chrono::milliseconds timeout,
                            std::string chain,
                            std::function<void(std::vector<RpcResult>)> on_done) {
    const std::size_t n = calls.size();
    const std::uint64_t first_id = core_->next_id.fetch_add(std::max<std::size_t>(n, 1));
    std::vector<std::string> labels;
    labels.reserve(n);
    boost::json::array body;
    body.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        labels.push_back(label_of(chain, calls[i].method));
        boost::json::object call;
        call["jsonrpc"] = "2.0";
        call["id"] = first_id + i;
        call["method"] = calls[i].method;
        call["params"] = std::move(calls[i].params);
        body.push_back(std::move(call));
    }
    const std::size_t limit = core_->options.max_response_bytes;
    const std::string batch_label =
        label_of(chain, "batch of " + std::to_string(n) + " call" + (n == 1 ? "" : "s"));
    auto finish = [labels = std::move(labels), batch_label, limit, first_id, on_done](Outcome o) {
        if (transport_error(o, batch_label, limit)) {
            std::vector<RpcResult> out;
            out.reserve(labels.size());
            for (const auto& l : labels) {
                out.emplace_back(*transport_error(o, l, limit));
            }
            on_done(std::move(out));
            return;
        }
        on_done(read_batch_reply(o.http_status, o.body, first_id, labels, batch_label, o.endpoint));
    };
    if (n == 0) {
        // Nothing to send; still complete on the I/O thread, like every other call.
        return core_->submit(
            std::move(url), {}, timeout, [on_done = std::move(on_done)](Outcome) { on_done({}); },
            true);
    }
    return core_->submit(std::move(url), boost::json::serialize(body), timeout, std::move(finish));
}

CallHandle RpcClient::post_raw(std::string url,
                               std::string body,
                               std::chrono::milliseconds timeout,
                               std::function<void(RawReply)> on_done) {
    const std::size_t limit = core_->options.max_response_bytes;
    auto finish = [limit, on_done = std::move(on_done)](Outcome o) {
        RawReply r;
        r.http_status = o.http_status;
        if (auto e = transport_error(o, "POST " + o.endpoint, limit)) {
            r.error = std::move(*e);
        } else {
            r.body = std::move(o.body);
        }
        on_done(std::move(r));
    };
    return core_->submit(std::move(url), std::move(body), timeout, std::move(finish));
}

}  // namespace forkrun::forks
