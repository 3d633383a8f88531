// Beast's WebSocket lives in this translation unit only. A socket is three short coroutine loops
// on its connection's thread: the client's messages to the relay and on to the fork, the fork's
// messages back through the relay, and one writer that owns every write to the client.
#include "http/ws_gateway.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "http/fork_client.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kAwait = asio::use_awaitable;

// Close codes: 4000 is the application's own, so a client can tell a released fork from a
// server going away.
constexpr auto kForkReleasedCode = static_cast<websocket::close_code>(4000);

std::string_view as_text(const beast::flat_buffer& b) {
    return {static_cast<const char*>(b.data().data()), b.size()};
}

// Why a socket closes.
const websocket::close_reason kReleased(kForkReleasedCode, "fork released");
const websocket::close_reason kForkLost(websocket::close_code::internal_error,
                                        "fork connection lost");
const websocket::close_reason kShuttingDown(websocket::close_code::going_away,
                                            "server shutting down");

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(beast::tcp_stream stream, const WsConfig& config)
        : client_(std::move(stream)),
          fork_(client_.get_executor()),
          write_wake_(client_.get_executor(), Clock::time_point::max()),
          drain_wake_(client_.get_executor(), Clock::time_point::max()),
          room_wake_(client_.get_executor(), Clock::time_point::max()),
          config_(config) {}

    asio::any_io_executor executor() { return client_.get_executor(); }
    beast::tcp_stream& client_socket() { return beast::get_lowest_layer(client_); }

    // The fork's WebSocket, opened before the client's upgrade is accepted.
    asio::awaitable<bool> connect_fork(std::unique_ptr<controller::WsRelay> relay) {
        relay_ = std::move(relay);
        const auto ep = fork_endpoint(relay_->fork_url());
        if (!ep) {
            co_return false;
        }
        boost::system::error_code ec;
        auto& socket = beast::get_lowest_layer(fork_);
        socket.expires_after(config_.handshake_timeout);
        co_await socket.async_connect(*ep, asio::redirect_error(kAwait, ec));
        if (!ec) {
            socket.socket().set_option(tcp::no_delay(true), ec);
            co_await fork_.async_handshake(
                ep->address().to_string() + ":" + std::to_string(ep->port()), "/",
                asio::redirect_error(kAwait, ec));
        }
        if (ec) {
            co_return false;
        }
        socket.expires_never();
        fork_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        fork_.read_message_max(config_.max_fork_message);
        fork_open_ = true;
        co_return true;
    }

    bool released() const { return relay_ && relay_->released(); }

    asio::awaitable<bool> accept(const WsGateway::Request& req) {
        client_.set_option(
            websocket::stream_base::timeout{config_.handshake_timeout, config_.idle_timeout, true});
        client_.read_message_max(config_.max_message);
        client_socket().expires_never();
        boost::system::error_code ec;
        co_await client_.async_accept(req, asio::redirect_error(kAwait, ec));
        co_return !ec;
    }

    // Until the client's connection is over and the fork's is closed.
    asio::awaitable<void> run() {
        auto ex = executor();
        auto self = shared_from_this();
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(ex, self->client_loop(), asio::deferred),
            asio::co_spawn(ex, self->fork_loop(), asio::deferred),
            asio::co_spawn(ex, self->write_loop(), asio::deferred))
            .async_wait(asio::experimental::wait_for_all(), kAwait);
    }

    // Forwards nothing more, gives what is in flight `within` to be answered, closes the fork's
    // connection, then the client's with `reason`. A later call can only shorten the wait.
    void finish(std::chrono::milliseconds within, websocket::close_reason reason) {
        const auto deadline = Clock::now() + within;
        if (!reason_) {
            reason_ = std::move(reason);
        }
        if (finishing_) {
            if (deadline < deadline_) {
                deadline_ = deadline;
                drain_wake_.cancel();
            }
            return;
        }
        finishing_ = true;
        deadline_ = deadline;
        asio::co_spawn(executor(), shared_from_this()->drain_then_close(), asio::detached);
    }

    // Lets go of the fork (its subscriptions end with the connection).
    void close_fork() {
        if (relay_) {
            relay_->close();  // unanswered calls are cut: the fork is then not reused
        }
        if (fork_open_) {
            fork_open_ = false;
            boost::system::error_code ec;
            beast::get_lowest_layer(fork_).socket().close(ec);
        }
        drain_wake_.cancel();
        room_wake_.cancel();
    }

  private:
    asio::awaitable<void> drain_then_close() {
        auto self = shared_from_this();
        while (fork_open_ && relay_->pending() > 0 && Clock::now() < deadline_) {
            boost::system::error_code ec;
            drain_wake_.expires_at(deadline_);
            co_await drain_wake_.async_wait(asio::redirect_error(kAwait, ec));
        }
        close_fork();
        close_client();
    }

    // After what is queued, the close frame (by the writer).
    void close_client() {
        if (!reason_) {
            reason_ = websocket::close_reason(websocket::close_code::normal);
        }
        closing_ = true;
        write_wake_.cancel();
    }

    // Cuts the client's connection at once (a slow reader, or its end).
    void cut_client() {
        client_over_ = true;
        boost::system::error_code ec;
        client_socket().socket().close(ec);
        write_wake_.cancel();
    }

    void send(std::string text) {
        if (client_over_ || closing_) {
            return;
        }
        if (queued_bytes_ > 0 && queued_bytes_ + text.size() > config_.max_queued_bytes) {
            cut_client();  // it does not read what it asked for
            return;
        }
        queued_bytes_ += text.size();
        queue_.push_back(std::move(text));
        write_wake_.cancel();
    }

    asio::awaitable<void> client_loop() {
        beast::flat_buffer buffer;
        boost::system::error_code ec;
        for (;;) {
            while (fork_open_ && relay_->pending_calls() >= config_.max_pending_calls) {
                room_wake_.expires_at(Clock::time_point::max());
                co_await room_wake_.async_wait(asio::redirect_error(kAwait, ec));
            }
            co_await client_.async_read(buffer, asio::redirect_error(kAwait, ec));
            if (ec) {
                break;  // closed by either side, timed out, too big (1009), or cut
            }
            if (write_began_ != Clock::time_point() &&
                Clock::now() - write_began_ > config_.idle_timeout) {
                break;  // it talks but has not read one message for that long
            }
            if (closing_) {
                buffer.clear();
                continue;  // read on until the client answers the close frame
            }
            auto step = relay_->from_client(as_text(buffer));
            buffer.clear();
            if (!step.to_client.empty()) {
                send(std::move(step.to_client));
            }
            if (!step.to_fork.empty()) {
                co_await fork_.async_write(asio::buffer(step.to_fork),
                                           asio::redirect_error(kAwait, ec));
                if (ec && !finishing_) {
                    finish(std::chrono::milliseconds(0), kForkLost);
                }
            }
        }
        cut_client();
        // What the client still has in flight is waited for, so that it is not cut.
        finish(config_.call_timeout, websocket::close_reason(websocket::close_code::normal));
    }

    asio::awaitable<void> fork_loop() {
        beast::flat_buffer buffer;
        boost::system::error_code ec;
        while (fork_open_) {
            co_await fork_.async_read(buffer, asio::redirect_error(kAwait, ec));
            if (ec) {
                break;
            }
            for (auto& text : relay_->from_fork(as_text(buffer))) {
                send(std::move(text));
            }
            buffer.clear();
            drain_wake_.cancel();
            room_wake_.cancel();
        }
        if (fork_open_ && !finishing_) {
            // The fork went away by itself: released (and killed) before we heard, or it died.
            const bool released = relay_->released();
            finish(std::chrono::milliseconds(0), released ? kReleased : kForkLost);
        }
        close_fork();
    }

    asio::awaitable<void> write_loop() {
        boost::system::error_code ec;
        while (!client_over_) {
            if (!queue_.empty()) {
                const std::string text = std::move(queue_.front());
                queue_.pop_front();
                write_began_ = Clock::now();
                co_await client_.async_write(asio::buffer(text), asio::redirect_error(kAwait, ec));
                write_began_ = {};
                queued_bytes_ -= text.size();
                if (ec) {
                    cut_client();
                }
                continue;
            }
            if (closing_) {
                co_await client_.async_close(*reason_, asio::redirect_error(kAwait, ec));
                break;  // the reader sees the client's close frame (or the timeout)
            }
            write_wake_.expires_at(Clock::time_point::max());
            co_await write_wake_.async_wait(asio::redirect_error(kAwait, ec));
        }
        queue_.clear();
    }

    websocket::stream<beast::tcp_stream> client_;
    websocket::stream<beast::tcp_stream> fork_;
    asio::steady_timer write_wake_;  // the writer: something to send, or close
    asio::steady_timer drain_wake_;  // a call answered, or the fork's connection closed
    asio::steady_timer room_wake_;   // room for more calls in flight
    const WsConfig config_;
    std::unique_ptr<controller::WsRelay> relay_;
    std::deque<std::string> queue_;
    std::size_t queued_bytes_ = 0;  // queued and being written
    std::optional<websocket::close_reason> reason_;
    Clock::time_point deadline_;
    Clock::time_point write_began_;  // of the write to the client under way, if any
    bool fork_open_ = false;
    bool finishing_ = false;
    bool closing_ = false;
    bool client_over_ = false;
};

// A refused upgrade: its status and JSON-RPC error, then the connection closes.
asio::awaitable<void> refuse(beast::tcp_stream& stream,
                             unsigned status,
                             std::string body,
                             unsigned version,
                             std::chrono::milliseconds timeout) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), version};
    res.set(bhttp::field::content_type, "application/json");
    res.keep_alive(false);
    res.body() = std::move(body);
    res.prepare_payload();
    boost::system::error_code ec;
    stream.expires_after(timeout);
    co_await bhttp::async_write(stream, res, asio::redirect_error(kAwait, ec));
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.socket().close(ec);
}

}  // namespace

struct WsGateway::Impl {
    Impl(controller::RpcGateway& g, WsConfig c) : gateway(g), config(c) {}
    controller::RpcGateway& gateway;
    WsConfig config;
    std::mutex mu;
    std::unordered_set<std::shared_ptr<Session>> sessions;
    bool stopped = false;
};

WsGateway::WsGateway(controller::RpcGateway& gateway, WsConfig config)
    : impl_(std::make_shared<Impl>(gateway, config)) {}

WsGateway::~WsGateway() = default;

bool WsGateway::is_upgrade(const Request& req) {
    const auto target = req.target();
    return websocket::is_upgrade(req) && std::string_view(target.data(), target.size())
                                             .starts_with(controller::RpcGateway::kPathPrefix);
}

asio::awaitable<WsGateway::Outcome> WsGateway::serve(beast::tcp_stream stream, Request req) {
    const auto version = req.version();
    const auto impl = impl_;  // the frame may outlive the gateway at shutdown
    const auto& config = impl->config;
    auto session = std::make_shared<Session>(std::move(stream), config);
    const auto target = req.target();
    auto path = std::string_view(target.data(), target.size());
    path = path.substr(0, path.find('?')).substr(controller::RpcGateway::kPathPrefix.size());

    auto ex = session->executor();
    auto attached =
        impl->gateway.attach(path, [w = std::weak_ptr(session), ex](std::chrono::milliseconds in) {
            asio::post(ex, [w, in] {
                if (auto s = w.lock()) {
                    s->finish(in, kReleased);
                }
            });
        });
    Outcome outcome{attached.status, attached.fork_id};
    if (attached.status != 101) {
        co_await refuse(session->client_socket(), attached.status, std::move(attached.body),
                        version, config.handshake_timeout);
        co_return outcome;
    }
    const bool connected = co_await session->connect_fork(std::move(attached.relay));
    if (!connected || session->released()) {
        // Released while we connected: as if the upgrade had come a moment later.
        const bool released = session->released();
        session->close_fork();
        outcome.status = released ? 410 : 502;
        co_await refuse(session->client_socket(), outcome.status,
                        released
                            ? controller::jsonrpc_error_body(controller::kGatewayReleasedCode,
                                                             controller::kGatewayReleasedMessage)
                            : controller::jsonrpc_error_body(controller::kGatewayUnreachableCode,
                                                             "the fork is unreachable"),
                        version, config.handshake_timeout);
        co_return outcome;
    }
    {
        std::lock_guard lock(impl->mu);
        impl->sessions.insert(session);
        if (impl->stopped) {
            session->finish(std::chrono::milliseconds(0), kShuttingDown);
        }
    }
    if (co_await session->accept(req)) {
        co_await session->run();
    } else {
        session->close_fork();
        outcome.status = 400;
    }
    std::lock_guard lock(impl->mu);
    impl->sessions.erase(session);
    co_return outcome;
}

void WsGateway::stop() {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
    for (const auto& s : impl_->sessions) {
        asio::post(s->executor(), [w = std::weak_ptr(s)] {
            if (auto s = w.lock()) {
                s->finish(std::chrono::milliseconds(0), kShuttingDown);
            }
        });
    }
}

}  // namespace forkrun::http
