// A WebSocket client for the tests (Beast), every operation with a deadline: JSON-RPC calls
// matched by id, subscription notifications kept aside, refused upgrades and close frames as seen.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <thread>

namespace forkrun::http::test {

namespace ws_detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
}  // namespace ws_detail

/// Waits until `done()` holds, checking every 10 ms, for at most `timeout`.
template <typename Done>
bool eventually(Done done, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a condition
    }
    return true;
}

/// The WebSocket URL of an rpcUrl (`http://host/rpc/...` -> `ws://host/rpc/...`).
inline std::string ws_url(const std::string& rpc_url) {
    return "ws://" + rpc_url.substr(rpc_url.find("://") + 3);
}

class WsClient {
  public:
    /// Opens `url` (an rpcUrl, http:// or ws://). When the server declines the upgrade, open()
    /// is false and refused_status/refused_body say how.
    explicit WsClient(const std::string& url,
                      std::chrono::milliseconds timeout = std::chrono::seconds(15))
        : ws_(ioc_), timeout_(timeout) {
        const auto at = url.find("://");
        const auto rest = url.substr(at == std::string::npos ? 0 : at + 3);
        const auto slash = rest.find('/');
        const auto authority = rest.substr(0, slash);
        const auto target = slash == std::string::npos ? std::string("/") : rest.substr(slash);
        const auto colon = authority.rfind(':');
        const ws_detail::asio::ip::tcp::endpoint ep(
            ws_detail::asio::ip::make_address(authority.substr(0, colon)),
            static_cast<unsigned short>(std::stoi(authority.substr(colon + 1))));
        auto ec = run([&](auto h) { ws_.next_layer().async_connect(ep, h); });
        if (ec) {
            return;
        }
        ws_detail::websocket::response_type res;
        ec = run([&](auto h) { ws_.async_handshake(res, authority, target, h); });
        open_ = !ec;
        if (!open_) {
            refused_status = res.result_int();
            refused_body = res.body();
        }
    }

    bool open() const { return open_; }
    unsigned refused_status = 0;
    std::string refused_body;

    /// Sends one text message; false when that failed.
    bool send(const std::string& text) {
        return !run([&](auto h) { ws_.async_write(ws_detail::asio::buffer(text), h); });
    }

    /// The next message, or nullopt once the socket is closed or nothing came in time (then
    /// close_code()/close_reason() say whether a close frame came).
    std::optional<std::string> next() {
        buffer_.clear();
        if (run([&](auto h) { ws_.async_read(buffer_, h); })) {
            return std::nullopt;
        }
        return ws_detail::beast::buffers_to_string(buffer_.data());
    }

    /// Sends a call and returns its answer, keeping the notifications that came meanwhile.
    boost::json::value call(std::string_view method, boost::json::array params = {}) {
        const int id = next_id_++;
        send(boost::json::serialize(boost::json::object{
            {"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}}));
        return answer(id);
    }

    /// The answer with `id`, keeping the notifications that came before it; null when none came.
    boost::json::value answer(std::int64_t id) {
        while (auto text = next()) {
            auto v = boost::json::parse(*text);
            const auto* obj = v.if_object();
            if (obj && obj->contains("method")) {
                notifications.push_back(std::move(v));
                continue;
            }
            if (obj && obj->contains("id") && obj->at("id") == id) {
                return v;
            }
        }
        return nullptr;
    }

    /// A subscription notification: one kept already, or the next to come.
    std::optional<boost::json::value> notification() {
        while (notifications.empty()) {
            auto text = next();
            if (!text) {
                return std::nullopt;
            }
            auto v = boost::json::parse(*text);
            if (v.is_object() && v.as_object().contains("method")) {
                notifications.push_back(std::move(v));
            }
        }
        auto v = std::move(notifications.front());
        notifications.pop_front();
        return v;
    }

    /// Reads until the socket closes; the messages that came before.
    std::vector<std::string> until_closed() {
        std::vector<std::string> out;
        while (auto text = next()) {
            out.push_back(std::move(*text));
        }
        return out;
    }

    /// The server's close code (0 when no close frame came) and reason.
    int close_code() const { return ws_.reason().code; }
    std::string close_reason() const {
        const auto& r = ws_.reason().reason;
        return std::string(r.data(), r.size());
    }
    /// The last operation did not finish within the timeout.
    bool timed_out() const { return timed_out_; }

    std::deque<boost::json::value> notifications;

  private:
    // Runs one asynchronous operation to its end or the timeout (then cancels it).
    template <typename Start>
    boost::system::error_code run(Start start) {
        std::optional<boost::system::error_code> result;
        start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
        ioc_.restart();
        const auto deadline = std::chrono::steady_clock::now() + timeout_;
        while (!result && ioc_.run_one_until(deadline) > 0) {
        }
        if (!result) {
            timed_out_ = true;
            boost::system::error_code ignored;
            ws_.next_layer().close(ignored);
            ioc_.restart();
            ioc_.run();
        }
        return *result;
    }

    ws_detail::asio::io_context ioc_;
    ws_detail::websocket::stream<ws_detail::asio::ip::tcp::socket> ws_;
    ws_detail::beast::flat_buffer buffer_;
    std::chrono::milliseconds timeout_;
    int next_id_ = 1;
    bool open_ = false;
    bool timed_out_ = false;
};

}  // namespace forkrun::http::test
