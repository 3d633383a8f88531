// RpcClient against real anvil processes, plus test-local sockets for what anvil cannot do
// (refuse, never answer, answer garbage).
#include "forks/rpc_client.hpp"

#include "forks/test_anvil.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

namespace forkrun::forks {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace asio = boost::asio;

constexpr auto kWait = 20s;  // Generous deadline for anything that should happen "now".

long ms_since(Clock::time_point t0) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

/// A loopback listening socket. It never answers unless told to reply with a canned response.
class LoopbackServer {
  public:
    LoopbackServer() {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
            listen(fd_, 64) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len)) {
            throw std::runtime_error("cannot open a loopback listening socket");
        }
        port_ = ntohs(addr.sin_port);
    }
    ~LoopbackServer() {
        if (responder_.joinable()) {
            responder_.join();
        }
        for (int c : accepted_) {
            close(c);
        }
        close(fd_);
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
    int port() const { return port_; }

    /// Accepts one connection (and keeps it open, silent), waiting at most until `deadline`.
    bool accept_one(Clock::time_point deadline) {
        const int c = accept_until(deadline);
        if (c < 0) {
            return false;
        }
        accepted_.push_back(c);
        return true;
    }

    /// Answers the next request with `response` (raw HTTP) on a background thread.
    void reply_once(std::string response) {
        responder_ = std::thread([this, response = std::move(response)] {
            const int c = accept_until(Clock::now() + kWait);
            if (c < 0) {
                return;
            }
            std::string request;
            char buf[4096];
            while (true) {
                const auto head = request.find("\r\n\r\n");
                if (head != std::string::npos) {
                    const auto cl = request.find("Content-Length: ");
                    const std::size_t body =
                        cl == std::string::npos ? 0 : std::stoul(request.substr(cl + 16));
                    if (request.size() >= head + 4 + body) {
                        break;
                    }
                }
                const ssize_t n = read(c, buf, sizeof buf);
                if (n <= 0) {
                    break;
                }
                request.append(buf, static_cast<std::size_t>(n));
            }
            (void)!write(c, response.data(), response.size());
            close(c);
        });
    }

  private:
    int accept_until(Clock::time_point deadline) {
        while (Clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) > 0) {
                return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            }
        }
        return -1;
    }

    int fd_ = -1;
    int port_ = 0;
    std::vector<int> accepted_;
    std::thread responder_;
};

/// A loopback port with nothing listening on it.
int refused_port() {
    LoopbackServer probe;
    return probe.port();
}

std::string refused_url() {
    return "http://127.0.0.1:" + std::to_string(refused_port()) + "/";
}

std::string http_response(int status, std::string_view body) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

RpcResult call_and_wait(RpcClient& client, RpcRequest req) {
    std::promise<RpcResult> done;
    auto fut = done.get_future();
    client.call(std::move(req), [&done](RpcResult r) { done.set_value(std::move(r)); });
    if (fut.wait_for(kWait) != std::future_status::ready) {
        throw std::runtime_error("call did not complete");
    }
    return fut.get();
}

RpcRequest request(std::string url, std::string method, boost::json::array params = {}) {
    RpcRequest r;
    r.url = std::move(url);
    r.method = std::move(method);
    r.params = std::move(params);
    r.chain = "chain 8453";
    return r;
}

TEST(RpcClient, ChainIdFromAnvil) {
    test::TestAnvil anvil(8453);
    RpcClient client;
    RpcResult r = call_and_wait(client, request(anvil.url(), "eth_chainId"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, boost::json::value("0x2105"));
}

TEST(RpcClient, BatchWithOneUnknownMethodFailsOnlyThatElement) {
    test::TestAnvil anvil(8453);
    RpcClient client;
    std::promise<std::vector<RpcResult>> done;
    auto fut = done.get_future();
    client.batch(anvil.url(),
                 {{"eth_chainId", {}}, {"no_such_method", {}}, {"eth_blockNumber", {}}}, 5s,
                 "chain 8453", [&done](std::vector<RpcResult> r) { done.set_value(std::move(r)); });
    ASSERT_EQ(fut.wait_for(kWait), std::future_status::ready);
    auto results = fut.get();
    ASSERT_EQ(results.size(), 3u);
    ASSERT_TRUE(results[0]) << results[0].error().message;
    EXPECT_EQ(*results[0], boost::json::value("0x2105"));
    ASSERT_FALSE(results[1]);
    EXPECT_EQ(results[1].error().code, RpcErrc::kRpcError);
    EXPECT_EQ(results[1].error().rpc_code, -32601);
    EXPECT_EQ(results[1].error().message,
              "chain 8453: no_such_method failed: Method not found (JSON-RPC error -32601)");
    ASSERT_TRUE(results[2]) << results[2].error().message;
    EXPECT_EQ(*results[2], boost::json::value("0x0"));
}

TEST(RpcClient, EmptyBatchCompletesEmpty) {
    RpcClient client;
    std::promise<std::size_t> done;
    auto fut = done.get_future();
    client.batch("http://127.0.0.1:1/", {}, 1s, "chain 1",
                 [&done](std::vector<RpcResult> r) { done.set_value(r.size()); });
    ASSERT_EQ(fut.wait_for(kWait), std::future_status::ready);
    EXPECT_EQ(fut.get(), 0u);
}

TEST(RpcClient, BatchElementMissingFromReplyIsAnError) {
    LoopbackServer server;
    // A fresh client numbers its first batch 1, 2; the canned reply answers only id 1.
    server.reply_once(http_response(200, R"([{"jsonrpc":"2.0","id":1,"result":"0x1"}])"));
    RpcClient client;
    std::promise<std::vector<RpcResult>> done;
    auto fut = done.get_future();
    client.batch(server.url(), {{"eth_chainId", {}}, {"eth_blockNumber", {}}}, 5s, "chain 1",
                 [&done](std::vector<RpcResult> r) { done.set_value(std::move(r)); });
    ASSERT_EQ(fut.wait_for(kWait), std::future_status::ready);
    auto results = fut.get();
    ASSERT_EQ(results.size(), 2u);
    ASSERT_TRUE(results[0]);
    EXPECT_EQ(*results[0], boost::json::value("0x1"));
    ASSERT_FALSE(results[1]);
    EXPECT_EQ(results[1].error().code, RpcErrc::kBadResponse);
    EXPECT_EQ(results[1].error().message,
              "chain 1: eth_blockNumber: the batch response has no reply for this call");
}

TEST(RpcClient, RevertIsRpcErrorNamingChainAndMethod) {
    test::TestAnvil anvil(8453);
    RpcClient client;
    // Init code PUSH1 0 PUSH1 0 REVERT: an eth_call that always reverts.
    boost::json::array params = {boost::json::object{{"data", "0x60006000fd"}}, "latest"};
    RpcResult r = call_and_wait(client, request(anvil.url(), "eth_call", params));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kRpcError);
    EXPECT_EQ(r.error().rpc_code, 3);
    EXPECT_EQ(r.error().message,
              "chain 8453: eth_call failed: execution reverted (JSON-RPC error 3)");
    EXPECT_EQ(r.error().rpc_data, boost::json::value("0x"));
    EXPECT_EQ(r.error().error_code(), RpcErrc::kRpcError);
    EXPECT_STREQ(r.error().error_code().category().name(), "forkrun.rpc");
}

TEST(RpcClient, ConnectionRefusedIsTransportNamingHostAndPort) {
    const int port = refused_port();
    RpcClient client;
    auto req = request("http://127.0.0.1:" + std::to_string(port), "eth_blockNumber");
    req.chain = "chain 1";
    RpcResult r = call_and_wait(client, req);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kTransport);
    EXPECT_EQ(r.error().message, "chain 1: eth_blockNumber: connection refused (127.0.0.1:" +
                                     std::to_string(port) + ")");
}

TEST(RpcClient, SilentServerTimesOut) {
    LoopbackServer server;
    RpcClient client;
    auto req = request(server.url(), "eth_blockNumber");
    req.timeout = 300ms;
    const auto t0 = Clock::now();
    RpcResult r = call_and_wait(client, req);
    const long elapsed = ms_since(t0);
    std::cout << "timeout of 300 ms fired after " << elapsed << " ms\n";
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kTimeout);
    EXPECT_EQ(r.error().message, "chain 8453: eth_blockNumber: no reply within 300 ms (127.0.0.1:" +
                                     std::to_string(server.port()) + ")");
    EXPECT_GE(elapsed, 290);
    EXPECT_LT(elapsed, 300 + 2000);
}

TEST(RpcClient, AbortOfOutstandingCallFiresPromptly) {
    LoopbackServer server;
    RpcClient client;
    std::promise<RpcResult> done;
    auto fut = done.get_future();
    std::atomic<int> callbacks{0};
    auto req = request(server.url(), "eth_blockNumber");
    req.timeout = 30s;
    CallHandle handle = client.call(req, [&](RpcResult r) {
        if (callbacks.fetch_add(1) == 0) {
            done.set_value(std::move(r));
        }
    });
    ASSERT_TRUE(server.accept_one(Clock::now() + kWait));  // The request is on the wire.
    const CallHandle copy = handle;
    const auto t0 = Clock::now();
    copy.abort();
    ASSERT_EQ(fut.wait_for(kWait), std::future_status::ready);
    const long elapsed = ms_since(t0);
    std::cout << "abort fired the callback after " << elapsed << " ms\n";
    EXPECT_LT(elapsed, 500);
    RpcResult r = fut.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kAborted);
    EXPECT_EQ(r.error().message, "chain 8453: eth_blockNumber: aborted");
    handle.abort();  // Idempotent, and harmless after completion.
    CallHandle().abort();
    // A later call still works on the same client, and the aborted one never fires again.
    auto req2 = request(refused_url(), "eth_chainId");
    EXPECT_FALSE(call_and_wait(client, req2));
    EXPECT_EQ(callbacks.load(), 1);
}

TEST(RpcClient, DestroyingTheClientAbortsOutstandingCalls) {
    LoopbackServer server;
    std::promise<RpcResult> done;
    auto fut = done.get_future();
    {
        RpcClient client;
        auto req = request(server.url(), "eth_blockNumber");
        req.timeout = 30s;
        client.call(req, [&done](RpcResult r) { done.set_value(std::move(r)); });
        ASSERT_TRUE(server.accept_one(Clock::now() + kWait));
    }
    ASSERT_EQ(fut.wait_for(0s), std::future_status::ready);
    RpcResult r = fut.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kAborted);
}

TEST(RpcClient, TwoHundredConcurrentCallsOnOneIoThread) {
    test::TestAnvil anvil(8453);
    RpcClient client;
    constexpr int kCalls = 200;
    std::mutex mutex;
    std::condition_variable cv;
    int completed = 0;
    int ok = 0;
    std::set<std::thread::id> threads;
    for (int i = 0; i < kCalls; ++i) {
        client.call(request(anvil.url(), i % 2 ? "eth_chainId" : "eth_blockNumber"),
                    [&](RpcResult r) {
                        std::lock_guard lock(mutex);
                        ++completed;
                        ok += r ? 1 : 0;
                        threads.insert(std::this_thread::get_id());
                        cv.notify_all();
                    });
    }
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return completed == kCalls; }));
    EXPECT_EQ(ok, kCalls);
    ASSERT_EQ(threads.size(), 1u);
    EXPECT_NE(*threads.begin(), std::this_thread::get_id());
}

TEST(RpcClient, PostRawForwardsTheReplyAsItIs) {
    LoopbackServer server;
    server.reply_once(http_response(429, R"({"error":"slow down"})"));
    RpcClient client;
    std::promise<RawReply> done;
    auto fut = done.get_future();
    client.post_raw(server.url(), R"({"jsonrpc":"2.0","id":7,"method":"eth_chainId"})", 5s,
                    [&done](RawReply r) { done.set_value(std::move(r)); });
    ASSERT_EQ(fut.wait_for(kWait), std::future_status::ready);
    RawReply r = fut.get();
    EXPECT_FALSE(r.error) << r.error->message;
    EXPECT_EQ(r.http_status, 429);
    EXPECT_EQ(r.body, R"({"error":"slow down"})");
}

TEST(RpcClient, PostRawToAnvil) {
    test::TestAnvil anvil(8453);
    RpcClient client;
    std::promise<RawReply> done;
    auto fut = done.get_future();
    client.post_raw(anvil.url(), R"({"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]})",
                    5s, [&done](RawReply r) { done.set_value(std::move(r)); });
    ASSERT_EQ(fut.wait_for(kWait), std::future_status::ready);
    RawReply r = fut.get();
    ASSERT_FALSE(r.error) << r.error->message;
    EXPECT_EQ(r.http_status, 200);
    EXPECT_EQ(boost::json::parse(r.body),
              boost::json::parse(R"({"jsonrpc":"2.0","id":7,"result":"0x2105"})"));
}

TEST(RpcClient, HttpErrorStatusIsReported) {
    LoopbackServer server;
    server.reply_once(http_response(
        429, R"({"jsonrpc":"2.0","id":1,"error":{"code":429,"message":"rate limited"}})"));
    RpcClient client;
    RpcResult r = call_and_wait(client, request(server.url(), "eth_call"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kHttpStatus);
    EXPECT_EQ(r.error().http_status, 429);
    EXPECT_EQ(r.error().message, "chain 8453: eth_call: HTTP 429 from 127.0.0.1:" +
                                     std::to_string(server.port()) + ": rate limited");
}

TEST(RpcClient, NonJsonReplyIsBadResponse) {
    LoopbackServer server;
    server.reply_once(http_response(200, "<html>oops</html>"));
    RpcClient client;
    RpcResult r = call_and_wait(client, request(server.url(), "eth_chainId"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kBadResponse);
    EXPECT_NE(r.error().message.find("chain 8453: eth_chainId: response is not JSON"),
              std::string::npos)
        << r.error().message;
}

TEST(RpcClient, TruncatedReplyIsBadResponse) {
    LoopbackServer server;
    server.reply_once(http_response(200, R"({"jsonrpc":"2.0","id":1,"result":"0x)"));
    RpcClient client;
    RpcResult r = call_and_wait(client, request(server.url(), "eth_chainId"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kBadResponse) << r.error().message;
}

TEST(RpcClient, ReplyOverTheSizeLimitIsBadResponse) {
    test::TestAnvil anvil(8453);
    RpcClient client(RpcClientOptions{.max_response_bytes = 16});
    RpcResult r = call_and_wait(client, request(anvil.url(), "eth_chainId"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, RpcErrc::kBadResponse);
    EXPECT_EQ(r.error().message,
              "chain 8453: eth_chainId: response from 127.0.0.1:" + std::to_string(anvil.port()) +
                  " is larger than the 16 bytes limit");
}

TEST(RpcClient, AsyncCallWithUseAwaitable) {
    test::TestAnvil anvil(8453);
    RpcClient client;
    asio::io_context ctx;
    std::optional<RpcResult> got;
    std::thread::id resumed_on;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            got = co_await async_call(client, request(anvil.url(), "eth_chainId"),
                                      asio::use_awaitable);
            resumed_on = std::this_thread::get_id();
        },
        asio::detached);
    ctx.run_for(kWait);
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(*got) << got->error().message;
    EXPECT_EQ(**got, boost::json::value("0x2105"));
    EXPECT_EQ(resumed_on, std::this_thread::get_id());  // On the io_context, not the I/O thread.
}

TEST(RpcClient, AsyncCallAbortedByCancellationSignal) {
    LoopbackServer server;
    RpcClient client;
    asio::io_context ctx;
    asio::cancellation_signal signal;
    std::optional<RpcResult> got;
    auto req = request(server.url(), "eth_blockNumber");
    req.timeout = 30s;
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            got = co_await async_call(client, req, asio::use_awaitable);
        },
        asio::bind_cancellation_slot(signal.slot(), asio::detached));
    ctx.poll();  // Runs the coroutine up to its co_await: the call is sent.
    ASSERT_TRUE(server.accept_one(Clock::now() + kWait));
    const auto t0 = Clock::now();
    signal.emit(asio::cancellation_type::terminal);
    ctx.run_for(kWait);
    const long elapsed = ms_since(t0);
    std::cout << "cancellation completed the coroutine after " << elapsed << " ms\n";
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(*got);
    EXPECT_EQ(got->error().code, RpcErrc::kAborted);
    EXPECT_LT(elapsed, 500);
}

TEST(RpcClient, AsyncCallLosesRaceToTimer) {
    using namespace asio::experimental::awaitable_operators;
    LoopbackServer server;
    RpcClient client;
    asio::io_context ctx;
    auto req = request(server.url(), "eth_blockNumber");
    req.timeout = 30s;
    std::optional<std::size_t> winner;
    const auto t0 = Clock::now();
    asio::co_spawn(
        ctx,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer timer(ctx, 200ms);
            auto v = co_await (async_call(client, req, asio::use_awaitable) ||
                               timer.async_wait(asio::use_awaitable));
            winner = v.index();
        },
        asio::detached);
    ctx.run_for(kWait);
    const long elapsed = ms_since(t0);
    ASSERT_TRUE(winner.has_value());
    EXPECT_EQ(*winner, 1u);  // The timer won and the call was aborted, not left to time out.
    EXPECT_LT(elapsed, 200 + 2000);
}

}  // namespace
}  // namespace forkrun::forks
