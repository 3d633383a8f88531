// Beast's HTTP client to the forks lives in this translation unit only: one POST and its answer
// on the caller's thread, over a connection kept alive per fork by the caller's io_context.
#include "http/fork_client.hpp"

#include <sys/socket.h>

#include <array>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace forkrun::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::optional<tcp::endpoint> fork_endpoint(std::string_view url) {
    constexpr std::string_view kScheme = "http://";
    if (!url.starts_with(kScheme)) {
        return std::nullopt;
    }
    auto rest = url.substr(kScheme.size());
    if (rest.ends_with('/')) {
        rest.remove_suffix(1);
    }
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(std::string(rest.substr(0, colon)), ec);
    const auto digits = rest.substr(colon + 1);
    unsigned port = 0;
    const auto [end, errc] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec || errc != std::errc() || end != digits.data() + digits.size() || port == 0 ||
        port > 65535) {
        return std::nullopt;
    }
    return tcp::endpoint(address, static_cast<unsigned short>(port));
}

namespace {

constexpr auto kAwait = asio::use_awaitable;

struct Connection {
    explicit Connection(const asio::any_io_executor& ex) : stream(ex) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    Clock::time_point idle_since;
};

// Whether the fork still holds its end of an idle connection: it has sent nothing (a kept
// connection it closed reads as end of stream, or as an error).
bool still_open(tcp::socket& socket) {
    char byte = 0;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// The idle connections to forks of one io_context, by fork address, the most recently used
// last. Used from that context's thread; the mutex makes it safe for any executor all the same
// (uncontended, it costs nanoseconds).
class IdleConnections final : public asio::execution_context::service {
  public:
    static inline asio::execution_context::id id;

    explicit IdleConnections(asio::execution_context& ctx)
        : asio::execution_context::service(ctx) {}

    // A kept connection to `ep` that still looks open, or null.
    std::unique_ptr<Connection> take(const tcp::endpoint& ep, Clock::duration max_idle) {
        std::lock_guard lock(mu_);
        sweep(max_idle);
        auto it = idle_.find(ep);
        if (it == idle_.end()) {
            return nullptr;
        }
        auto& list = it->second;
        std::unique_ptr<Connection> out;
        while (!out && !list.empty()) {
            out = std::move(list.back());
            list.pop_back();
            if (!still_open(out->stream.socket())) {
                out.reset();  // closed by the fork (restarted, destroyed): never reused
            }
        }
        if (list.empty()) {
            idle_.erase(it);
        }
        return out;
    }

    void put(const tcp::endpoint& ep,
             std::unique_ptr<Connection> c,
             std::size_t max_per_fork,
             Clock::duration max_idle) {
        std::lock_guard lock(mu_);
        if (shut_) {
            return;
        }
        sweep(max_idle);
        auto& list = idle_[ep];
        if (list.size() >= max_per_fork) {
            return;  // `c` closes
        }
        c->idle_since = Clock::now();
        list.push_back(std::move(c));
    }

  private:
    void shutdown() override {
        std::lock_guard lock(mu_);
        shut_ = true;
        idle_.clear();
    }

    // Closes what has been idle too long (forks that have gone among them), at most once a
    // second: without it a thread would keep its connections to every fork it ever served.
    void sweep(Clock::duration max_idle) {
        const auto now = Clock::now();
        if (now - swept_ < std::chrono::seconds(1)) {
            return;
        }
        swept_ = now;
        for (auto it = idle_.begin(); it != idle_.end();) {
            std::erase_if(it->second,
                          [&](const auto& c) { return now - c->idle_since > max_idle; });
            it = it->second.empty() ? idle_.erase(it) : std::next(it);
        }
    }

    std::mutex mu_;
    std::map<tcp::endpoint, std::vector<std::unique_ptr<Connection>>> idle_;
    Clock::time_point swept_;
    bool shut_ = false;
};

std::string describe_limit(std::size_t bytes) {
    constexpr std::size_t kMiB = 1024 * 1024;
    if (bytes >= kMiB && bytes % kMiB == 0) {
        return std::to_string(bytes / kMiB) + " MiB";
    }
    return std::to_string(bytes) + " bytes";
}

// Why no connection was made, as libcurl's client words it (forks/rpc_transport.cpp).
std::string connect_failure(const boost::system::error_code& ec, std::chrono::milliseconds limit) {
    if (ec == beast::error::timeout) {
        return "no connection within " + std::to_string(limit.count()) + " ms";
    }
    if (ec == asio::error::connection_refused) {
        return "connection refused";
    }
    return "cannot connect: " + ec.message();
}

// Why no complete answer came over a connection.
std::string exchange_failure(const boost::system::error_code& ec,
                             std::chrono::milliseconds timeout,
                             bool got_some) {
    if (ec == beast::error::timeout) {
        return "no reply within " + std::to_string(timeout.count()) + " ms";
    }
    if (!got_some && (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                      ec == asio::error::connection_reset)) {
        return "the server closed the connection without replying";
    }
    if (ec == bhttp::error::partial_message || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
        return "the connection closed before the whole reply";
    }
    return ec.message();
}

// A kept connection the fork closed while we wrote or before it answered a byte: safe to send
// the body again on a new one (anvil read nothing of it, or it would have answered).
bool lost_before_answer(const boost::system::error_code& ec, bool got_some) {
    return !got_some && (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                         ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
}

}  // namespace

asio::awaitable<controller::ForkAnswer> ForkClient::post(const std::string& fork_url,
                                                         std::string body,
                                                         std::chrono::milliseconds timeout) {
    controller::ForkAnswer out;
    const auto ep = fork_endpoint(fork_url);
    if (!ep) {
        out.error = "POST " + fork_url + ": not the address of a fork";
        co_return out;
    }
    const std::string where = ep->address().to_string() + ":" + std::to_string(ep->port());
    const std::string label = "POST " + where + ": ";
    timeout = std::max(timeout, std::chrono::milliseconds(1));
    const auto deadline = Clock::now() + timeout;
    auto ex = co_await asio::this_coro::executor;
    auto& idle = asio::use_service<IdleConnections>(asio::query(ex, asio::execution::context));
    const std::string head = "POST / HTTP/1.1\r\nHost: " + where +
                             "\r\nContent-Type: application/json\r\nAccept: application/json"
                             "\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n";
    for (;;) {
        auto conn = idle.take(*ep, config_.max_idle_time);
        const bool reused = conn != nullptr;
        boost::system::error_code ec;
        if (!conn) {
            conn = std::make_unique<Connection>(ex);
            const auto limit = std::min(timeout, config_.connect_timeout);
            conn->stream.expires_at(std::min(deadline, Clock::now() + limit));
            co_await conn->stream.async_connect(*ep, asio::redirect_error(kAwait, ec));
            if (ec) {
                out.error = label + connect_failure(ec, limit) + " (" + where + ")";
                co_return out;
            }
            conn->stream.socket().set_option(tcp::no_delay(true), ec);
        }
        conn->stream.expires_at(deadline);
        const std::array<asio::const_buffer, 2> request{asio::buffer(head), asio::buffer(body)};
        co_await asio::async_write(conn->stream, request, asio::redirect_error(kAwait, ec));
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(config_.max_response_bytes);
        if (!ec) {
            co_await bhttp::async_read(conn->stream, conn->buffer, parser,
                                       asio::redirect_error(kAwait, ec));
        }
        if (ec && reused && lost_before_answer(ec, parser.got_some())) {
            continue;  // the fork had let go of the kept connection: once more on a new one
        }
        if (ec == bhttp::error::body_limit) {
            out.http_status = parser.is_header_done() ? parser.get().result_int() : 0;
            out.error = label + "response from " + where + " is larger than the " +
                        describe_limit(config_.max_response_bytes) + " limit";
            co_return out;
        }
        if (ec) {
            out.http_status = parser.is_header_done() ? parser.get().result_int() : 0;
            out.error =
                label + exchange_failure(ec, timeout, parser.got_some()) + " (" + where + ")";
            co_return out;
        }
        auto answer = parser.release();
        out.http_status = answer.result_int();
        out.body = std::move(answer.body());
        if (answer.keep_alive() && conn->buffer.size() == 0) {
            conn->stream.expires_never();
            idle.put(*ep, std::move(conn), config_.max_idle_per_fork, config_.max_idle_time);
        }
        co_return out;
    }
}

}  // namespace forkrun::http
