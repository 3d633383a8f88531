// The gateway's client to its forks, against a real anvil: calls in sequence share one kept
// connection (the fork sees one), calls at once get connections of their own and only a bounded
// number stay idle, a kept connection the fork has closed is never what a call fails on, and a
// fork that is not there, stops answering, dies mid-call or answers too much is an error naming
// its address.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "forks/test_anvil.hpp"
#include "http/fork_client.hpp"
#include "http/sim_helpers.hpp"
#include "http/tcp_sockets.hpp"

namespace forkrun::http::test {
namespace {

namespace asio = boost::asio;
using controller::ForkAnswer;
using forks::test::TestAnvil;
using namespace std::chrono_literals;

constexpr std::string_view kBlockNumber =
    R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]})";

bool answered(const ForkAnswer& a) {
    return !a.error && a.http_status == 200 && a.body.find("\"result\"") != std::string::npos;
}

class ForkClientTest : public ::testing::Test {
  protected:
    // `n` calls, each sent when the one before is answered, on this test's io_context.
    std::vector<ForkAnswer> in_sequence(ForkClient& client,
                                        const std::string& url,
                                        int n,
                                        std::chrono::milliseconds timeout = 10s) {
        auto calls = [&]() -> asio::awaitable<std::vector<ForkAnswer>> {
            std::vector<ForkAnswer> out;
            for (int i = 0; i < n; ++i) {
                out.push_back(co_await client.post(url, std::string(kBlockNumber), timeout));
            }
            co_return out;
        };
        auto f = asio::co_spawn(ioc_, calls(), asio::use_future);
        ioc_.restart();
        ioc_.run();
        return f.get();
    }

    ForkAnswer one(ForkClient& client,
                   const std::string& url,
                   std::chrono::milliseconds timeout = 10s) {
        return in_sequence(client, url, 1, timeout).front();
    }

    // `n` calls sent at once.
    std::vector<ForkAnswer> at_once(ForkClient& client, const std::string& url, int n) {
        std::vector<std::future<ForkAnswer>> fs;
        for (int i = 0; i < n; ++i) {
            fs.push_back(asio::co_spawn(ioc_, client.post(url, std::string(kBlockNumber), 10s),
                                        asio::use_future));
        }
        ioc_.restart();
        ioc_.run();
        std::vector<ForkAnswer> out;
        for (auto& f : fs) {
            out.push_back(f.get());
        }
        return out;
    }

    asio::io_context ioc_{1};  // the idle connections live as long as it does
};

TEST_F(ForkClientTest, CallsInSequenceShareOneKeptConnectionToTheFork) {
    TestAnvil anvil;
    ForkClient client;
    for (const auto& a : in_sequence(client, anvil.url(), 50)) {
        ASSERT_TRUE(answered(a)) << a.error.value_or(a.body);
    }
    const auto first = client_ports_of(static_cast<unsigned>(anvil.port()));
    EXPECT_EQ(first.size(), 1u) << "50 calls in sequence, one connection on the fork's side";
    for (const auto& a : in_sequence(client, anvil.url(), 50)) {
        ASSERT_TRUE(answered(a)) << a.error.value_or(a.body);
    }
    EXPECT_EQ(client_ports_of(static_cast<unsigned>(anvil.port())), first)
        << "the kept connection serves the next calls too";
}

TEST_F(ForkClientTest, CallsAtOnceGetConnectionsOfTheirOwnAndOnlyTheLimitStaysIdle) {
    TestAnvil anvil;
    ForkClientConfig config;
    config.max_idle_per_fork = 2;
    ForkClient client(config);
    for (const auto& a : at_once(client, anvil.url(), 6)) {
        EXPECT_TRUE(answered(a)) << a.error.value_or(a.body);
    }
    const auto port = static_cast<unsigned>(anvil.port());
    EXPECT_TRUE(eventually([&] { return accepted_on(port).size() == 2; }))
        << accepted_on(port).size() << " connections open; 2 may stay idle";
    const auto kept = client_ports_of(port);
    for (const auto& a : at_once(client, anvil.url(), 2)) {
        EXPECT_TRUE(answered(a)) << a.error.value_or(a.body);
    }
    EXPECT_EQ(client_ports_of(port), kept) << "two calls at once take the two idle connections";
}

TEST_F(ForkClientTest, NoForkAtTheAddressIsConnectionRefused) {
    // A port nothing listens on: bound, then let go.
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
    const std::string where = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    ::close(s);
    ForkClient client;
    const auto a = one(client, "http://" + where);
    ASSERT_TRUE(a.error);
    EXPECT_EQ(*a.error, "POST " + where + ": connection refused (" + where + ")");
    EXPECT_EQ(a.http_status, 0u);
    EXPECT_TRUE(one(client, "ftp://" + where).error);
}

TEST_F(ForkClientTest, AForkThatStopsAnsweringTimesOutAndTheNextCallGetsANewConnection) {
    TestAnvil anvil;
    ForkClient client;
    ASSERT_TRUE(answered(one(client, anvil.url())));
    const auto port = static_cast<unsigned>(anvil.port());
    const auto before = client_ports_of(port);
    ::kill(anvil.pid(), SIGSTOP);
    ASSERT_TRUE(eventually([&] { return process_stopped(anvil.pid()); }));
    const auto a = one(client, anvil.url(), 300ms);
    ::kill(anvil.pid(), SIGCONT);
    ASSERT_TRUE(a.error);
    EXPECT_NE(a.error->find("no reply within 300 ms"), std::string::npos) << *a.error;
    ASSERT_TRUE(answered(one(client, anvil.url())));
    EXPECT_NE(client_ports_of(port), before) << "a timed-out connection is never reused";
}

TEST_F(ForkClientTest, AForkThatDiesMidCallIsAnErrorNamingItsAddress) {
    TestAnvil anvil;
    ForkClient client;
    const auto port = static_cast<unsigned>(anvil.port());
    ASSERT_TRUE(answered(one(client, anvil.url())));  // a connection the fork has accepted
    ::kill(anvil.pid(), SIGSTOP);
    ASSERT_TRUE(eventually([&] { return process_stopped(anvil.pid()); }));
    std::thread caller([&] {
        const auto a = one(client, anvil.url());
        EXPECT_TRUE(a.error) << a.body;
        EXPECT_EQ(a.http_status, 0u);
        if (a.error) {
            EXPECT_NE(a.error->find("127.0.0.1:" + std::to_string(port)), std::string::npos)
                << *a.error;
        }
    });
    // The call is on its way once its bytes wait in the stopped fork's socket.
    EXPECT_TRUE(eventually([&] { return unread_on(port) > 0; }));
    ::kill(anvil.pid(), SIGKILL);
    caller.join();
}

TEST_F(ForkClientTest, AnAnswerOverTheLimitIsAnError) {
    TestAnvil anvil;
    ForkClientConfig config;
    config.max_response_bytes = 16;
    ForkClient client(config);
    const auto a = one(client, anvil.url());
    ASSERT_TRUE(a.error);
    EXPECT_NE(a.error->find("is larger than the 16 bytes limit"), std::string::npos) << *a.error;
    EXPECT_TRUE(a.body.empty());
}

// Stands in for a fork that closes kept connections, which anvil does not do on demand: it
// answers each connection's first request, then closes the connection either at once or when
// the connection's next request has arrived, unanswered.
class FakeForkClosingKeptConnections {
  public:
    explicit FakeForkClosingKeptConnections(bool close_on_next_request)
        : close_on_next_(close_on_next_request) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd_, 16) != 0) {
            throw std::runtime_error("cannot listen");
        }
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeForkClosingKeptConnections() {
        {
            std::lock_guard lock(mu_);
            stopped_ = true;
            ::shutdown(fd_, SHUT_RDWR);
            if (serving_ >= 0) {
                ::shutdown(serving_, SHUT_RDWR);  // a connection the client keeps idle
            }
        }
        thread_.join();
        ::close(fd_);
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    unsigned port() const { return port_; }
    int connections() const { return accepted_.load(); }

  private:
    // Reads one request (head and Content-Length body); false when the client went away.
    static bool read_request(int c) {
        std::string in;
        char buf[4096];
        for (;;) {
            const auto head_end = in.find("\r\n\r\n");
            if (head_end != std::string::npos) {
                const auto at = in.find("Content-Length: ");
                const auto length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 16));
                if (in.size() >= head_end + 4 + length) {
                    return true;
                }
            }
            const auto n = ::read(c, buf, sizeof buf);
            if (n <= 0) {
                return false;
            }
            in.append(buf, static_cast<std::size_t>(n));
        }
    }

    void serve() {
        for (;;) {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) {
                return;
            }
            {
                std::lock_guard lock(mu_);
                if (stopped_) {
                    ::close(c);
                    return;
                }
                serving_ = c;
            }
            ++accepted_;
            if (read_request(c)) {
                const std::string body = R"({"jsonrpc":"2.0","id":1,"result":"0x0"})";
                const std::string answer =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "Content-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
                (void)!::write(c, answer.data(), answer.size());
                if (close_on_next_) {
                    read_request(c);
                }
            }
            std::lock_guard lock(mu_);
            serving_ = -1;
            ::close(c);
        }
    }

    bool close_on_next_;
    std::mutex mu_;
    bool stopped_ = false;
    int serving_ = -1;
    int fd_ = -1;
    unsigned short port_ = 0;
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

TEST_F(ForkClientTest, AKeptConnectionTheForkClosedIsNotReused) {
    FakeForkClosingKeptConnections fork(false);
    ForkClient client;
    ASSERT_TRUE(answered(one(client, fork.url())));
    // Our end of the kept connection has seen the fake's close (CLOSE_WAIT).
    ASSERT_TRUE(eventually([&] {
        for (const auto& s : tcp_sockets()) {
            if (s.remote_port == fork.port() && s.state == kTcpCloseWait) {
                return true;
            }
        }
        return false;
    }));
    const auto a = one(client, fork.url());
    EXPECT_TRUE(answered(a)) << a.error.value_or(a.body);
    EXPECT_EQ(fork.connections(), 2);
}

TEST_F(ForkClientTest, AKeptConnectionLostBeforeAnyAnswerIsRetriedOnceOnANewOne) {
    FakeForkClosingKeptConnections fork(true);
    ForkClient client;
    const auto answers = in_sequence(client, fork.url(), 3);
    for (const auto& a : answers) {
        EXPECT_TRUE(answered(a)) << a.error.value_or(a.body);
    }
    EXPECT_EQ(fork.connections(), 3) << "each call after the first lost its kept connection";
}

}  // namespace
}  // namespace forkrun::http::test
