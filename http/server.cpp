// The Beast server: a session is a short coroutine loop: wait for a request within the idle
// timeout, read it within the read timeout (its head checked by request_checks), answer, log it
// (access_log), repeat. Beast's sessions live in this translation unit only.
#include "http/server.hpp"

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <stdexcept>
#include <unordered_set>

#include "controller/rpc_gateway.hpp"
#include "http/acceptor.hpp"
#include "http/access_log.hpp"
#include "http/cors.hpp"
#include "http/envelope.hpp"
#include "http/in_flight.hpp"
#include "http/request_checks.hpp"
#include "http/response_head.hpp"
#include "http/ws_gateway.hpp"
#include "util/event_log.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

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
        util::write_log_line(config.log,
                             access_log_line({request_id, method, target, status, us, fork_id}));
    }

    // Writes one answer, its head and body in one gather write; false when the write failed.
    asio::awaitable<bool> write(beast::tcp_stream& stream,
                                ApiResponse& r,
                                unsigned version,
                                bool keep_alive) {
        const std::string head = response_head({r.status, version, keep_alive, r.content_type,
                                                r.request_id, &r.headers, r.body.size()});
        const std::array<asio::const_buffer, 2> bytes{asio::buffer(head), asio::buffer(r.body)};
        boost::system::error_code ec;
        stream.expires_after(config.read_timeout);
        co_await asio::async_write(stream, bytes, asio::redirect_error(asio::use_awaitable, ec));
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
                    std::size_t n = 0;
                    bool picked = false;
                    {
                        // Waiting for a request: the first to go when connections run short.
                        IdleConnections::Mark mark(idle, stream.get_executor(),
                                                   [&stream] { stream.close(); });
                        n = co_await stream.async_read_some(
                            buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
                        picked = mark.release();
                    }
                    if (ec) {
                        break;  // idle timeout, end of stream, reset: close quietly
                    }
                    if (picked) {
                        // Its place went to a newer connection just before this request came:
                        // it is shed like one past the cap (503, Retry-After), never left
                        // open one over the cap (decision 90).
                        shed_connection(stream.release_socket().release(ec));
                        co_return;
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
        const InFlight::Request counted(in_flight);

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
    const auto ep = listen_together(
        impl_->acceptors,
        tcp::endpoint(asio::ip::make_address(impl_->config.host), impl_->config.port));
    for (auto& a : impl_->acceptors) {
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
    return impl_->in_flight->count();
}

asio::awaitable<bool> Server::wait_idle(std::chrono::steady_clock::time_point deadline) {
    const auto counter = impl_->in_flight;  // outlives the server, should it go first
    co_return co_await counter->wait_idle(deadline);
}

void Server::stop_accepting() {
    impl_->stopping = true;
    for (auto& a : impl_->acceptors) {
        asio::post(a->socket().get_executor(), [a = a.get()] { a->stop(); });
    }
}

}  // namespace forkrun::http
