// The libcurl multi loop behind RpcClient: one I/O thread that starts, finishes and aborts
// transfers, and reuses their easy handles.
#include "forks/rpc_client_internal.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace forkrun::forks {
namespace detail {

void ensure_curl_global_init() {
    static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        throw std::runtime_error(std::string("libcurl initialisation failed: ") +
                                 curl_easy_strerror(rc));
    }
}

namespace {

Outcome make_outcome(Outcome::Kind kind, std::string detail = {}) {
    Outcome o;
    o.kind = kind;
    o.detail = std::move(detail);
    return o;
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

}  // namespace forkrun::forks
