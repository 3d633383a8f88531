// Beast lives in this translation unit only. A session is a short coroutine loop: wait for a
// request within the idle timeout, read it within the read timeout, answer, repeat.
#include "http/server.hpp"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <stdexcept>
#include <unordered_set>

#include "controller/rpc_gateway.hpp"
#include "http/acceptor.hpp"
#include "http/cors.hpp"
#include "http/envelope.hpp"
#include "http/ws_gateway.hpp"
#include "util/event_log.hpp"
#include "util/log_line.hpp"
#include "util/timestamp.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

namespace {

// The path of `target` as the access log shows it: no query, and nothing after an /rpc/
// segment, where an rpcUrl's secret is (the line names the fork instead).
// A mistyped rpcUrl (`/RPC/<secret>`, `/%72pc/...`, `/rpc;/...`) must not log its secret either:
// the path is cut at any "rpc" in any case, and at any percent-escape.
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

using RequestHead = bhttp::request_parser<bhttp::string_body>::value_type;

struct HeaderProblem {
    unsigned status = 0;  // 0: none
    std::string_view message;
};

// Why a request's framing or identity headers are refused (RFC 9112 3.2 and 6.1): where a proxy
// in front might read them differently from us, nothing is guessed. Beast itself refuses a
// Transfer-Encoding after a Content-Length and a chunked one repeated; the rest is checked here.
HeaderProblem header_problem(const RequestHead& head) {
    const auto te = head.equal_range(bhttp::field::transfer_encoding);
    if (te.first != te.second) {
        if (head.version() < 11) {
            return {400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
        }
        // The last coding of the last Transfer-Encoding line says how the body ends.
        beast::string_view last;
        std::size_t codings = 0;
        for (auto it = te.first; it != te.second; ++it) {
            last = {};
            for (const auto coding : bhttp::token_list(it->value())) {
                last = coding;
                ++codings;
            }
        }
        if (!beast::iequals(last, "chunked")) {
            return {400, "Transfer-Encoding must end in chunked"};
        }
        if (head.count(bhttp::field::content_length) > 0) {
            return {400, "Transfer-Encoding and Content-Length must not be sent together"};
        }
        if (codings > 1) {
            return {501, "Transfer-Encoding other than chunked is not supported"};
        }
    }
    const auto hosts = head.count(bhttp::field::host);
    if (hosts > 1) {
        return {400, "more than one Host header"};
    }
    if (hosts == 0 && head.version() >= 11) {
        return {400, "an HTTP/1.1 request needs a Host header"};
    }
    if (head.count(bhttp::field::authorization) > 1) {
        return {400, "more than one Authorization header"};
    }
    return {};
}

// The requests being answered, and the timers of wait_idle() callers, each woken (made to expire
// at once, on its own executor) when the count falls to zero. Shared with every answer under
// way, so one that outlives the server (a context destroyed after it) touches nothing freed.
struct InFlight {
    std::atomic<std::size_t> count{0};
    // Spares the last request the lock while nobody waits.
    std::atomic<bool> watched{false};
    std::mutex mu;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;

    void done() {
        if (count.fetch_sub(1) != 1 || !watched.load()) {
            return;
        }
        std::lock_guard lock(mu);
        for (auto& t : waiters) {
            asio::post(t->get_executor(),
                       [t] { t->expires_at(asio::steady_timer::time_point::min()); });
        }
        waiters.clear();
    }
};

}  // namespace

struct Server::Impl {
    Api& api;
    ServerConfig config;
    std::shared_ptr<InFlight> in_flight = std::make_shared<InFlight>();
    AdmissionState admission;
    Cors cors;
    // One per io_context. An accepted connection lives on its acceptor's context, which one
    // thread runs, so a session needs no strand.
    std::vector<std::unique_ptr<Acceptor>> acceptors;
    std::atomic<bool> stopping{false};
    // WebSocket rpcUrls (null without a gateway).
    std::unique_ptr<WsGateway> ws;

    // An event stream being sent, so that shutdown can end it on its connection's thread.
    struct LiveStream {
        asio::any_io_executor ex;
        std::shared_ptr<ResponseStream> body;
        beast::tcp_stream* socket = nullptr;  // null once the session has left the stream
    };
    std::mutex streams_mu;
    std::unordered_set<std::shared_ptr<LiveStream>> streams;
    bool streams_stopped = false;

    Impl(const std::vector<asio::io_context*>& contexts, Api& a, ServerConfig c)
        : api(a), config(std::move(c)), cors(config.cors_origins) {
        if (config.max_connections == 0) {
            config.max_connections = default_max_connections();
        }
        admission.max_connections = config.max_connections;
        admission.log = config.log;
        if (auto* gateway = api.gateway()) {
            WsConfig ws_config;
            ws_config.max_message = config.body_limit;
            ws_config.handshake_timeout = config.read_timeout;
            ws_config.idle_timeout = config.idle_timeout;
            ws = std::make_unique<WsGateway>(*gateway, ws_config);
        }
        for (auto* ioc : contexts) {
            acceptors.push_back(std::make_unique<Acceptor>(
                *ioc, admission,
                [this](tcp::socket socket, std::shared_ptr<IdleConnections> idle,
                       ConnectionCount::Slot slot) {
                    boost::system::error_code ec;
                    socket.set_option(tcp::no_delay(true), ec);
                    auto ex = socket.get_executor();
                    asio::co_spawn(ex,
                                   session(beast::tcp_stream(std::move(socket)), std::move(idle),
                                           std::move(slot)),
                                   asio::detached);
                }));
        }
    }

    void log_request(std::string_view request_id,
                     std::string_view method,
                     std::string_view target,
                     unsigned status,
                     std::chrono::steady_clock::time_point started,
                     std::string_view fork_id = {}) {
        if (!config.access_log) {
            return;
        }
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        const auto path = loggable_path(target);
        char ms[32];
        std::snprintf(ms, sizeof ms, "%.3f", static_cast<double>(us) / 1000.0);
        util::LogLine line("http.request", 160 + path.size());
        line.str("requestId", request_id).str("method", method).str("path", path);
        if (!fork_id.empty()) {
            line.str("forkId", fork_id);
        }
        line.num("status", static_cast<std::uint64_t>(status)).raw("ms", ms);
        util::write_log_line(config.log, std::move(line).finish());
    }

    // Writes one answer; false when the write failed.
    asio::awaitable<bool> write(beast::tcp_stream& stream,
                                ApiResponse& r,
                                unsigned version,
                                bool keep_alive) {
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
        if (!r.content_type.empty()) {  // a preflight's 204 has no body, hence no type
            res.set(bhttp::field::content_type,
                    beast::string_view(r.content_type.data(), r.content_type.size()));
        }
        res.set("X-Request-Id", r.request_id);
        for (const auto& [name, value] : r.headers) {
            res.set(beast::string_view(name.data(), name.size()), value);
        }
        res.keep_alive(keep_alive);
        res.body() = std::move(r.body);
        res.prepare_payload();
        boost::system::error_code ec;
        stream.expires_after(config.read_timeout);
        co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        co_return !ec;
    }

    // Sends the header, then each chunk of the body as the stream gives it, until it ends, the
    // client goes away or shutdown; the connection then closes (the body has no length). No
    // idle timeout applies while the stream waits; each write must finish within the idle one.
    asio::awaitable<void> write_stream(beast::tcp_stream& stream,
                                       ApiResponse& r,
                                       unsigned version) {
        bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(r.status), version};
        res.set(bhttp::field::content_type,
                beast::string_view(r.content_type.data(), r.content_type.size()));
        res.set("X-Request-Id", r.request_id);
        for (const auto& [name, value] : r.headers) {
            res.set(beast::string_view(name.data(), name.size()), value);
        }
        res.keep_alive(false);
        bhttp::response_serializer<bhttp::empty_body> sr{res};
        boost::system::error_code ec;
        stream.expires_after(config.read_timeout);
        co_await bhttp::async_write_header(stream, sr,
                                           asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return;
        }
        auto live =
            std::make_shared<LiveStream>(LiveStream{stream.get_executor(), r.stream, &stream});
        {
            std::lock_guard lock(streams_mu);
            if (streams_stopped) {
                co_return;
            }
            streams.insert(live);
        }
        for (;;) {
            stream.expires_never();
            auto chunk = co_await r.stream->next();
            if (!chunk) {
                break;
            }
            stream.expires_after(config.idle_timeout);
            co_await asio::async_write(stream, asio::buffer(*chunk),
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                break;
            }
        }
        live->socket = nullptr;
        std::lock_guard lock(streams_mu);
        streams.erase(live);
    }

    void stop_streams() {
        if (ws) {
            ws->stop();
        }
        std::lock_guard lock(streams_mu);
        streams_stopped = true;
        for (const auto& live : streams) {
            asio::post(live->ex, [live] {
                live->body->stop();
                if (live->socket) {
                    live->socket->cancel();  // a write blocked on a client that does not read
                }
            });
        }
    }

    static bool to_rpc_url(const bhttp::request<bhttp::string_body>& head) {
        const auto target = head.target();
        return std::string_view(target.data(), target.size())
            .starts_with(controller::RpcGateway::kPathPrefix);
    }

    // Answers without routing (framing errors, limits) and closes afterwards. `head`: what the
    // parser read of the request (its target, when it got that far, says if it was an rpcUrl).
    asio::awaitable<void> reject(beast::tcp_stream& stream,
                                 unsigned status,
                                 std::string_view message,
                                 bool drain,
                                 const bhttp::request<bhttp::string_body>& head) {
        auto r = Api::error(status, message, request_id_for(""));
        if (to_rpc_url(head)) {  // an rpcUrl's client reads JSON-RPC, never the envelope
            r.body = controller::jsonrpc_framing_error_body(status, message);
        }
        const auto origin = head[bhttp::field::origin];
        cors.decorate(std::string_view(origin.data(), origin.size()), r);
        const bool written = co_await write(stream, r, 11, false);
        log_request(r.request_id, "-", "-", status, std::chrono::steady_clock::now());
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        if (drain && written && !ec) {
            // Read and drop what the client is still sending, briefly, so it sees our answer
            // instead of a connection reset.
            std::array<char, 16384> sink;
            std::size_t total = 0;
            stream.expires_after(std::chrono::seconds(2));
            while (total < (64u << 20)) {
                auto n = co_await stream.async_read_some(
                    asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
                if (ec) {
                    break;
                }
                total += n;
            }
        }
        stream.socket().close(ec);
    }

    asio::awaitable<void> session(beast::tcp_stream stream,
                                  std::shared_ptr<IdleConnections> idle,
                                  ConnectionCount::Slot /*counted until the session ends*/) {
        beast::flat_buffer buffer;
        boost::system::error_code ec;
        try {
            for (;;) {
                if (buffer.size() == 0) {
                    stream.expires_after(config.idle_timeout);
                    // Waiting for a request: the first to go when connections run short.
                    IdleConnections::Mark mark(idle, [&stream] { stream.close(); });
                    auto n = co_await stream.async_read_some(
                        buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
                    if (ec) {
                        break;  // idle timeout, end of stream, reset: close quietly
                    }
                    buffer.commit(n);
                }
                bhttp::request_parser<bhttp::string_body> parser;
                parser.header_limit(static_cast<std::uint32_t>(config.header_limit));
                parser.body_limit(config.body_limit);
                stream.expires_after(config.read_timeout);
                co_await bhttp::async_read_header(stream, buffer, parser,
                                                  asio::redirect_error(asio::use_awaitable, ec));
                if (ec == bhttp::error::body_limit) {  // from Content-Length, before any body
                    co_await reject(stream, 413,
                                    "request body is larger than the limit of " +
                                        std::to_string(config.body_limit) + " bytes",
                                    true, parser.get());
                    co_return;
                }
                if (ec == bhttp::error::header_limit) {
                    co_await reject(stream, 431, "request headers are larger than the limit", false,
                                    parser.get());
                    co_return;
                }
                if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout) {
                    break;
                }
                if (ec == bhttp::error::bad_transfer_encoding ||
                    ec == bhttp::error::bad_content_length ||
                    ec == bhttp::error::multiple_content_length) {
                    co_await reject(stream, 400,
                                    "the request's Transfer-Encoding and Content-Length "
                                    "contradict each other or are malformed",
                                    true, parser.get());
                    co_return;
                }
                if (ec) {
                    co_await reject(stream, 400, "malformed HTTP request", false, parser.get());
                    co_return;
                }
                const auto& head = parser.get();
                if (const auto problem = header_problem(head); problem.status != 0) {
                    // Closed after the answer: the bytes after this head are never read as
                    // another request (no request smuggling).
                    co_await reject(stream, problem.status, problem.message, true, head);
                    co_return;
                }
                if (auto len = parser.content_length(); len && *len > config.body_limit) {
                    co_await reject(stream, 413,
                                    "request body is larger than the limit of " +
                                        std::to_string(config.body_limit) + " bytes",
                                    true, parser.get());
                    co_return;
                }
                if (beast::iequals(head[bhttp::field::expect], "100-continue")) {
                    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
                    co_await bhttp::async_write(stream, cont,
                                                asio::redirect_error(asio::use_awaitable, ec));
                    if (ec) {
                        break;
                    }
                }
                co_await bhttp::async_read(stream, buffer, parser,
                                           asio::redirect_error(asio::use_awaitable, ec));
                if (ec == bhttp::error::body_limit) {
                    co_await reject(stream, 413,
                                    "request body is larger than the limit of " +
                                        std::to_string(config.body_limit) + " bytes",
                                    true, parser.get());
                    co_return;
                }
                if (ec) {
                    if (ec != beast::error::timeout && ec != bhttp::error::end_of_stream &&
                        ec != bhttp::error::partial_message) {
                        co_await reject(stream, 400, "malformed HTTP request", false, parser.get());
                    }
                    break;
                }
                if (ws && WsGateway::is_upgrade(parser.get())) {
                    co_await upgrade(std::move(stream), parser.release());
                    co_return;  // the socket was the WebSocket's, and is closed
                }
                if (!co_await answer(stream, parser.get())) {
                    break;
                }
            }
        } catch (const std::exception&) {
            // A connection never takes the server down; the socket is closed below.
        }
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream.socket().close(ec);
    }

    // Serves a WebSocket rpcUrl until it closes; the access log's line comes at its end.
    asio::awaitable<void> upgrade(beast::tcp_stream stream,
                                  bhttp::request<bhttp::string_body> req) {
        const auto started = std::chrono::steady_clock::now();
        const auto target = req.target();
        const std::string path(target.data(), target.size());
        const auto outcome = co_await ws->serve(std::move(stream), std::move(req));
        log_request(request_id_for(""), "GET", path, outcome.status, started, outcome.fork_id);
    }

    // Answers one request; false when the connection must close.
    asio::awaitable<bool> answer(beast::tcp_stream& stream,
                                 const bhttp::request<bhttp::string_body>& req) {
        const auto started = std::chrono::steady_clock::now();
        in_flight->count.fetch_add(1);
        struct Done {
            std::shared_ptr<InFlight> f;
            ~Done() { f->done(); }
        } done{in_flight};

        const auto method = req.method_string();
        const auto target = req.target();
        ApiRequest areq;
        areq.method = std::string_view(method.data(), method.size());
        areq.target = std::string_view(target.data(), target.size());
        auto header = [&](bhttp::field f) {
            auto v = req[f];
            return std::string_view(v.data(), v.size());
        };
        areq.authorization = header(bhttp::field::authorization);
        areq.content_type = header(bhttp::field::content_type);
        auto rid = req["X-Request-Id"];
        areq.request_id = std::string_view(rid.data(), rid.size());
        auto last_id = req["Last-Event-ID"];
        areq.last_event_id = std::string_view(last_id.data(), last_id.size());
        areq.origin = header(bhttp::field::origin);
        areq.cors_request_method = header(bhttp::field::access_control_request_method);
        const auto keys = req.equal_range("Idempotency-Key");
        for (auto it = keys.first; it != keys.second; ++it) {
            if (areq.idempotency_keys++ == 0) {
                areq.idempotency_key = std::string_view(it->value().data(), it->value().size());
            }
        }
        areq.body = req.body();

        ApiResponse r;
        if (auto preflight = cors.preflight(areq)) {
            r = std::move(*preflight);
        } else {
            try {
                r = co_await api.handle(areq);
            } catch (const std::exception&) {
                r = Api::error(500, "internal error", request_id_for(areq.request_id));
            }
        }
        cors.decorate(areq.origin, r);
        if (r.stream) {
            co_await write_stream(stream, r, req.version());
            log_request(r.request_id, areq.method, areq.target, r.status, started);
            co_return false;
        }
        const bool keep_alive = req.keep_alive() && !stopping.load();
        const bool written = co_await write(stream, r, req.version(), keep_alive);
        log_request(r.request_id, areq.method, areq.target, r.status, started, r.fork_id);
        co_return written&& keep_alive;
    }
};

Server::Server(std::vector<asio::io_context*> contexts, Api& api, ServerConfig config)
    : impl_(std::make_unique<Impl>(contexts, api, std::move(config))) {
    if (contexts.empty()) {
        throw std::invalid_argument("http::Server needs at least one io_context");
    }
}

Server::~Server() = default;

tcp::endpoint Server::start() {
    auto& acceptors = impl_->acceptors;
    const bool shared = acceptors.size() > 1;
    tcp::endpoint ep(asio::ip::make_address(impl_->config.host), impl_->config.port);
    for (std::size_t i = 0; i < acceptors.size(); ++i) {
        auto& a = acceptors[i]->socket();
        a.open(ep.protocol());
        a.set_option(tcp::acceptor::reuse_address(true));
        if (i == 0) {
            // The first binds without SO_REUSEPORT, so a port that something else listens on
            // fails here as it would for a single acceptor (and port 0 gets a port of its own);
            // the option, set before listen(), lets the other acceptors join it.
            a.bind(ep);
            ep = a.local_endpoint();
            if (shared) {
                a.set_option(reuse_port(true));
            }
        } else {
            a.set_option(reuse_port(true));
            a.bind(ep);
        }
        a.listen(asio::socket_base::max_listen_connections);
        a.non_blocking(true);  // shedding accepts with accept4(2), which must never wait
    }
    for (auto& a : acceptors) {
        asio::co_spawn(a->socket().get_executor(), a->run(), asio::detached);
    }
    return ep;
}

std::size_t Server::max_connections() const {
    return impl_->config.max_connections;
}

void Server::stop_streams() {
    impl_->stop_streams();
}

std::size_t Server::in_flight() const {
    return impl_->in_flight->count.load();
}

asio::awaitable<bool> Server::wait_idle(std::chrono::steady_clock::time_point deadline) {
    const auto f = impl_->in_flight;
    f->watched = true;
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
    // A request may start after a wakeup (on a connection kept alive): then wait again.
    while (f->count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        timer->expires_at(deadline);
        {
            std::lock_guard lock(f->mu);
            f->waiters.push_back(timer);
        }
        // Registered before this look: the last request either finds the timer, or finished
        // before it was registered and the count reads zero here.
        if (f->count.load() == 0) {
            break;
        }
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    {
        std::lock_guard lock(f->mu);
        std::erase(f->waiters, timer);
    }
    co_return f->count.load() == 0;
}

void Server::stop_accepting() {
    impl_->stopping = true;
    for (auto& a : impl_->acceptors) {
        asio::post(a->socket().get_executor(), [a = a.get()] { a->stop(); });
    }
}

}  // namespace forkrun::http
