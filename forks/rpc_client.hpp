// The outbound JSON-RPC client: one libcurl multi handle driven by one I/O thread, so any number
// of calls can be outstanding without a thread each, and every call can be aborted at once.
#pragma once

#include "forks/rpc_error.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace forkrun::forks {

/// The `result` member of a JSON-RPC reply, or why there is none.
using RpcResult = boost::system::result<boost::json::value, RpcError>;

/// One JSON-RPC call.
struct RpcRequest {
    std::string url;
    std::string method;
    boost::json::array params;
    std::chrono::milliseconds timeout{10000};  ///< For the whole exchange, connect included.
    std::string chain;  ///< Label that starts every error message, e.g. "chain 8453".
    /// A bigger reply is kBadResponse; 0 means the client's limit, which is never exceeded.
    std::size_t max_response_bytes = 0;
};

/// One element of a JSON-RPC batch.
struct RpcCallSpec {
    std::string method;
    boost::json::array params;
};

/// The reply to post_raw(), forwarded as it came: any HTTP status is a reply, not an error.
/// `error` is set only when no complete reply arrived (transport, timeout, abort, size limit);
/// then `http_status` is 0 unless a status line had been read.
struct RawReply {
    int http_status = 0;
    std::string body;
    std::optional<RpcError> error;
};

/// Limits of an RpcClient.
struct RpcClientOptions {
    std::size_t max_response_bytes = 64 * 1024 * 1024;  ///< A bigger body is kBadResponse.
    std::chrono::milliseconds connect_timeout{5000};    ///< Capped by each call's own timeout.
    std::size_t max_idle_handles = 64;                  ///< Easy handles kept for reuse.
};

namespace detail {
struct CallState;
struct ClientCore;
}  // namespace detail

/// Refers to one outstanding call. Copies refer to the same call; a default-constructed handle
/// refers to none.
class CallHandle {
  public:
    CallHandle() = default;

    /// Ends the call: its callback fires with kAborted, on the I/O thread, promptly (well under
    /// 50 ms on an idle machine) even if the server never answers. Thread-safe and idempotent; does
    /// nothing once the callback has fired or the client is gone. A request already sent may
    /// still have taken effect on the server.
    void abort() const noexcept;

    bool valid() const noexcept { return state_ != nullptr; }

  private:
    friend struct detail::ClientCore;
    explicit CallHandle(std::shared_ptr<detail::CallState> state) : state_(std::move(state)) {}

    std::shared_ptr<detail::CallState> state_;
};

/// A JSON-RPC-over-HTTP client. Every entry point returns at once; the callback runs exactly
/// once, on the client's single I/O thread. Callbacks must be short and must not throw or block
/// (an exception is discarded); they may call call(), batch(), post_raw() and abort(), but must not
/// destroy the client. Connections are kept alive and reused (HTTP/1.1, TCP_NODELAY, no
/// `Expect: 100-continue`); proxies from the environment are ignored.
/// Destroying the client fires every outstanding callback with kAborted and joins the thread; it
/// must not race with calls from other threads. libcurl and the thread start with the first
/// request (a server that never calls a fork never initialises TLS); if they cannot (libcurl's
/// initialisation failed, out of memory), that request throws std::runtime_error, no callback
/// runs, and the next request tries again.
class RpcClient {
  public:
    explicit RpcClient(RpcClientOptions options = {});
    ~RpcClient();
    RpcClient(const RpcClient&) = delete;
    RpcClient& operator=(const RpcClient&) = delete;

    /// Sends one call; `on_done` gets its `result`, or an error naming the chain and the method.
    CallHandle call(RpcRequest request, std::function<void(RpcResult)> on_done);

    /// Sends `calls` as one JSON-RPC batch; `on_done` gets one result per call, in request order,
    /// matched by id. A call the server left out of its reply is kBadResponse for that call. An
    /// empty batch completes with an empty vector without touching the network.
    CallHandle batch(std::string url,
                     std::vector<RpcCallSpec> calls,
                     std::chrono::milliseconds timeout,
                     std::string chain,
                     std::function<void(std::vector<RpcResult>)> on_done);

    /// POSTs `body` as `application/json` and hands back the reply as it is, for a gateway.
    CallHandle post_raw(std::string url,
                        std::string body,
                        std::chrono::milliseconds timeout,
                        std::function<void(RawReply)> on_done);

  private:
    // libcurl, its multi handle and the I/O thread, at the first request: a server that never
    // calls a fork starts no TLS library (OpenSSL's initialisation alone is ~1.8 MB of idle RSS).
    detail::ClientCore& started();

    std::shared_ptr<detail::ClientCore> core_;
    std::once_flag start_;
    std::thread thread_;
};

/// How call() reads a complete HTTP reply (status and body) to its request numbered `id`: the
/// `result`, or why there is none (a reply holding a non-finite number is kBadResponse). `label`
/// starts every message ("chain 8453: eth_call");
/// `endpoint` (host:port) names the server in HTTP status errors. Exposed for tests and fuzzing.
RpcResult read_call_reply(int http_status,
                          std::string_view body,
                          std::uint64_t id,
                          const std::string& label,
                          std::string_view endpoint = {});

/// How batch() reads a complete HTTP reply to calls numbered from `first_id`, one label each
/// (`batch_label` names the whole batch): one result per call, in request order.
std::vector<RpcResult> read_batch_reply(int http_status,
                                        std::string_view body,
                                        std::uint64_t first_id,
                                        const std::vector<std::string>& labels,
                                        const std::string& batch_label,
                                        std::string_view endpoint = {});

namespace detail {

/// Shared between an async_call's cancellation slot handler and its initiation.
struct AsyncCancel {
    std::mutex mutex;
    CallHandle call;
    bool requested = false;

    void request() {
        CallHandle h;
        {
            std::lock_guard lock(mutex);
            requested = true;
            h = call;
        }
        h.abort();
    }
    void attach(CallHandle h) {
        bool abort_now = false;
        {
            std::lock_guard lock(mutex);
            call = h;
            abort_now = requested;
        }
        if (abort_now) {
            h.abort();
        }
    }
};

struct AsyncCallInitiation {
    template <class Handler>
    void operator()(Handler&& handler, RpcClient* client, RpcRequest request) const {
        namespace asio = boost::asio;
        using HandlerT = std::decay_t<Handler>;
        auto tracked = asio::prefer(asio::get_associated_executor(handler),
                                    asio::execution::outstanding_work.tracked);
        struct Pending {
            HandlerT handler;
            decltype(tracked) executor;  // Keeps the handler's context running until completion.
        };
        auto pending =
            std::make_shared<Pending>(Pending{std::forward<Handler>(handler), std::move(tracked)});

        auto cancel = std::make_shared<AsyncCancel>();
        auto slot = asio::get_associated_cancellation_slot(pending->handler);
        if (slot.is_connected()) {
            slot.assign([cancel](asio::cancellation_type type) {
                if (type != asio::cancellation_type::none) {
                    cancel->request();
                }
            });
        }
        cancel->attach(client->call(std::move(request), [pending](RpcResult r) mutable {
            auto p = std::move(pending);
            auto ex = p->executor;
            asio::post(ex, [p = std::move(p), r = std::move(r)]() mutable {
                auto done_slot = asio::get_associated_cancellation_slot(p->handler);
                if (done_slot.is_connected()) {
                    done_slot.clear();
                }
                std::move(p->handler)(std::move(r));
            });
        }));
    }
};

}  // namespace detail

/// Asio front end of RpcClient::call(): completes with `void(RpcResult)` on the handler's
/// associated executor, and any per-operation cancellation (cancellation slot, awaitable
/// operators, `co_spawn` with a bound slot) aborts the call, which then completes with kAborted.
/// `co_await async_call(client, req, boost::asio::use_awaitable)` yields the RpcResult.
template <class CompletionToken>
auto async_call(RpcClient& client, RpcRequest request, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(RpcResult)>(
        detail::AsyncCallInitiation{}, token, &client, std::move(request));
}

}  // namespace forkrun::forks
