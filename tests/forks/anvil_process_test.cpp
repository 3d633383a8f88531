// AnvilProcess against the real anvil binary: readiness, RPC, forking, failures, teardown.
#include "forks/anvil_process.hpp"

#include "forks/test_anvil.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using test::anvil_binary;

double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

/// Runs `task` on `io` until it completes; other work (pipe drains) stays pending.
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> task) {
    std::optional<T> result;
    std::exception_ptr error;
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        error = e;
        if (!e) {
            result.emplace(std::move(value));
        }
    });
    io.restart();
    while (!result && !error) {
        io.run_one();
    }
    if (error) {
        std::rethrow_exception(error);
    }
    return std::move(*result);
}

size_t collect(char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

/// A blocking JSON-RPC call; returns `result`, or nullopt on any failure.
std::optional<boost::json::value> rpc(const std::string& url,
                                      const std::string& method,
                                      boost::json::array params = {}) {
    const auto body = boost::json::serialize(boost::json::object{
        {"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", std::move(params)}});
    std::string reply;
    CURL* curl = curl_easy_init();
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
    const CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        return std::nullopt;
    }
    boost::system::error_code ec;
    auto json = boost::json::parse(reply, ec);
    if (ec || !json.is_object() || !json.as_object().contains("result")) {
        return std::nullopt;
    }
    return json.as_object().at("result");
}

bool tcp_connects(std::uint16_t port) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    return !ec;
}

int open_pidfd(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

/// Waits up to `timeout` for /proc/PID/stat to show `state` (polled: there is nothing to await).
bool state_becomes(pid_t pid, char state, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto paren = stat.rfind(')');
        if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == state) {
            return true;
        }
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

using test::child_pids;
using test::process_gone;

/// Everything under `dir`, for before/after comparisons.
std::set<std::string> listing(const fs::path& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
        out.insert(it->path().string());
    }
    return out;
}

/// Waits up to `timeout` for a pidfd to become readable (the process exited).
bool pidfd_exits_within(int pidfd, std::chrono::milliseconds timeout) {
    pollfd p{pidfd, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

class AnvilProcessTest : public ::testing::Test {
  protected:
    void SetUp() override {
        options_.anvil_path = anvil_binary();
        if (!fs::exists(options_.anvil_path)) {
            GTEST_SKIP() << "anvil not found at " << options_.anvil_path;
        }
        char pattern[] = "/tmp/forkrun-anvil-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        scratch_ = pattern;
    }

    void TearDown() override {
        if (!scratch_.empty()) {
            fs::remove_all(scratch_);
        }
    }

    AnvilProcess::SpawnResult spawn(AnvilOptions options) {
        return run(io_, AnvilProcess::spawn(std::move(options)));
    }

    std::unique_ptr<AnvilProcess> spawn_ok(AnvilOptions options) {
        auto spawned = spawn(std::move(options));
        if (!spawned) {
            ADD_FAILURE() << spawned.error().message;
            return nullptr;
        }
        return std::move(*spawned);
    }

    StopResult stop(AnvilProcess& anvil, std::chrono::milliseconds grace = 2000ms) {
        return run(io_, anvil.stop(grace));
    }

    asio::io_context io_;
    AnvilOptions options_;
    fs::path scratch_;
};

TEST_F(AnvilProcessTest, SpawnServesRpcAndStopReapsAndRemovesHome) {
    options_.chain_id = 4242;
    const auto t0 = Clock::now();
    auto anvil = spawn_ok(options_);
    const auto ready = Clock::now() - t0;
    ASSERT_TRUE(anvil);

    EXPECT_GT(anvil->port(), 0);
    EXPECT_EQ(anvil->url(), "http://127.0.0.1:" + std::to_string(anvil->port()));
    EXPECT_TRUE(anvil->running());
    EXPECT_TRUE(tcp_connects(anvil->port()));
    EXPECT_EQ(rpc(anvil->url(), "eth_chainId"), boost::json::value("0x1092"));
    const fs::path home = anvil->home_dir();
    EXPECT_TRUE(fs::is_directory(home));
    EXPECT_EQ(home.parent_path(), fs::temp_directory_path());

    const pid_t pid = anvil->pid();
    const auto stopped = stop(*anvil, 2000ms);
    EXPECT_TRUE(stopped.ok()) << stopped.message;
    EXPECT_FALSE(stopped.killed);
    EXPECT_FALSE(stopped.already_exited);
    EXPECT_LT(stopped.took, 2000ms);
    EXPECT_TRUE(process_gone(pid));
    EXPECT_FALSE(anvil->running());
    EXPECT_FALSE(fs::exists(home));

    const auto again = stop(*anvil);
    EXPECT_TRUE(again.ok());
    EXPECT_EQ(again.took, stopped.took);
    std::cout << "[anvil-timing] spawn-to-ready " << ms(ready) << " ms, stop "
              << stopped.took.count() / 1000.0 << " ms (" << stopped.status << ")\n";
}

TEST_F(AnvilProcessTest, ForkOfLocalAnvilReadsUpstreamStateAndCachesNothingInRealHome) {
    const char* real_home = std::getenv("HOME");
    const fs::path real_foundry = fs::path(real_home != nullptr ? real_home : "/root") / ".foundry";
    const auto foundry_before = listing(real_foundry);

    AnvilOptions upstream_options = options_;
    upstream_options.chain_id = 777;
    auto upstream = spawn_ok(upstream_options);
    ASSERT_TRUE(upstream);
    const std::string account = "0x00000000000000000000000000000000000000aa";
    ASSERT_TRUE(rpc(upstream->url(), "anvil_setBalance", {account, "0x1234567890"}));

    AnvilOptions fork_options = options_;
    fork_options.fork_url = upstream->url();
    fork_options.home_dir = (scratch_ / "fork-home").string();
    const auto t0 = Clock::now();
    auto fork = spawn_ok(fork_options);
    const auto ready = Clock::now() - t0;
    ASSERT_TRUE(fork);

    EXPECT_EQ(rpc(fork->url(), "eth_chainId"), boost::json::value("0x309"));
    EXPECT_EQ(rpc(fork->url(), "eth_getBalance", {account, "latest"}),
              boost::json::value("0x1234567890"));

    const auto fork_stopped = stop(*fork);
    EXPECT_TRUE(fork_stopped.ok()) << fork_stopped.message;
    EXPECT_TRUE(stop(*upstream).ok());

    EXPECT_EQ(listing(real_foundry), foundry_before) << "anvil wrote under the real HOME";
    EXPECT_TRUE(fs::is_directory(fork_options.home_dir)) << "a given HOME is never removed";
    std::ostringstream cached;
    for (const auto& path : listing(fork_options.home_dir)) {
        cached << ' ' << path;
    }
    std::cout << "[anvil-timing] fork spawn-to-ready " << ms(ready) << " ms, stop "
              << fork_stopped.took.count() / 1000.0
              << " ms; fork HOME holds:" << (cached.str().empty() ? " nothing" : cached.str())
              << '\n';
}

TEST_F(AnvilProcessTest, UnreachableForkUrlExitsEarlyWithAnvilsReason) {
    const auto children_before = child_pids();
    options_.fork_url = "http://127.0.0.1:1";
    options_.start_timeout = 30000ms;
    const auto t0 = Clock::now();
    auto spawned = spawn(options_);
    const auto took = Clock::now() - t0;

    ASSERT_FALSE(spawned);
    EXPECT_EQ(spawned.error().code, AnvilErrc::kExitedEarly);
    EXPECT_NE(spawned.error().message.find("exited with status 1"), std::string::npos)
        << spawned.error().message;
    EXPECT_NE(spawned.error().message.find("failed to get fork block number"), std::string::npos)
        << spawned.error().message;
    EXPECT_LT(took, 10s);
    EXPECT_EQ(child_pids(), children_before);
    std::cout << "[anvil-timing] unreachable fork url reported after " << ms(took)
              << " ms: " << spawned.error().message << '\n';
}

TEST_F(AnvilProcessTest, MissingBinaryIsSpawnFailed) {
    const auto children_before = child_pids();
    options_.anvil_path = (scratch_ / "no-such-anvil").string();
    auto spawned = spawn(options_);

    ASSERT_FALSE(spawned);
    EXPECT_EQ(spawned.error().code, AnvilErrc::kSpawnFailed);
    EXPECT_NE(spawned.error().message.find("No such file or directory"), std::string::npos)
        << spawned.error().message;
    EXPECT_EQ(child_pids(), children_before);
}

TEST_F(AnvilProcessTest, SilentForkUpstreamHitsStartTimeoutAndIsKilled) {
    // A port that accepts connections and never answers: anvil waits on it past the timeout.
    asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
    const auto children_before = child_pids();
    options_.fork_url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
    options_.start_timeout = 500ms;
    const auto t0 = Clock::now();
    auto spawned = spawn(options_);
    const auto took = Clock::now() - t0;

    ASSERT_FALSE(spawned);
    EXPECT_EQ(spawned.error().code, AnvilErrc::kStartTimeout) << spawned.error().message;
    EXPECT_NE(spawned.error().message.find("500 ms"), std::string::npos);
    EXPECT_GE(took, 500ms);
    EXPECT_LT(took, 5s);
    EXPECT_EQ(child_pids(), children_before);
}

TEST_F(AnvilProcessTest, CancelledSpawnKillsTheChild) {
    using namespace asio::experimental::awaitable_operators;
    asio::ip::tcp::acceptor silent(io_, {asio::ip::make_address("127.0.0.1"), 0});
    const auto children_before = child_pids();
    options_.fork_url = "http://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
    auto race = [&]() -> asio::awaitable<std::optional<AnvilProcess::SpawnResult>> {
        asio::steady_timer cancel_after(co_await asio::this_coro::executor, 300ms);
        auto winner = co_await (AnvilProcess::spawn(options_) ||
                                cancel_after.async_wait(asio::use_awaitable));
        if (winner.index() != 0) {
            co_return std::nullopt;
        }
        co_return std::move(std::get<0>(winner));
    };
    const auto t0 = Clock::now();
    const auto outcome = run(io_, race());
    EXPECT_LT(Clock::now() - t0, 5s);
    EXPECT_FALSE(outcome.has_value()) << "the timer should win the race";
    EXPECT_EQ(child_pids(), children_before);
}

TEST_F(AnvilProcessTest, StopKillsAProcessThatIgnoresSigterm) {
    auto anvil = spawn_ok(options_);
    ASSERT_TRUE(anvil);
    const pid_t pid = anvil->pid();
    // A stopped process cannot act on SIGTERM; only SIGKILL ends it.
    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    ASSERT_TRUE(state_becomes(pid, 'T', 5000ms));

    const auto stopped = stop(*anvil, 300ms);
    EXPECT_TRUE(stopped.ok()) << stopped.message;
    EXPECT_TRUE(stopped.killed);
    EXPECT_FALSE(stopped.already_exited);
    EXPECT_EQ(stopped.status, "was killed by SIGKILL");
    EXPECT_GE(stopped.took, 300ms);
    EXPECT_LT(stopped.took, 2000ms);
    EXPECT_TRUE(process_gone(pid));
}

TEST_F(AnvilProcessTest, ExternallyKilledIsDetectedAndStopStillReaps) {
    auto anvil = spawn_ok(options_);
    ASSERT_TRUE(anvil);
    const pid_t pid = anvil->pid();
    ASSERT_EQ(::kill(pid, SIGKILL), 0);

    // The owner's view: wait_exit() completes, bounded by a deadline.
    auto watch = [&]() -> asio::awaitable<std::optional<int>> {
        asio::steady_timer deadline(co_await asio::this_coro::executor, 5s);
        auto [order, error, status, timer_ec] =
            co_await asio::experimental::make_parallel_group(
                asio::co_spawn(io_, anvil->wait_exit(), asio::deferred),
                deadline.async_wait(asio::deferred))
                .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
        (void)timer_ec;
        if (order[0] != 0 || error || !status) {
            co_return std::nullopt;
        }
        co_return *status;
    };
    const auto status = run(io_, watch());
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 128 + SIGKILL);
    EXPECT_FALSE(anvil->running());

    const fs::path home = anvil->home_dir();
    const auto stopped = stop(*anvil);
    EXPECT_TRUE(stopped.ok()) << stopped.message;
    EXPECT_TRUE(stopped.already_exited);
    EXPECT_FALSE(stopped.killed);
    EXPECT_EQ(stopped.status, "was killed by SIGKILL");
    EXPECT_TRUE(process_gone(pid));
    EXPECT_FALSE(fs::exists(home));
}

TEST_F(AnvilProcessTest, StopOfUnwatchedDeadProcessReportsAndReaps) {
    auto anvil = spawn_ok(options_);
    ASSERT_TRUE(anvil);
    const pid_t pid = anvil->pid();
    const int pidfd = open_pidfd(pid);
    ASSERT_GE(pidfd, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_TRUE(pidfd_exits_within(pidfd, 5000ms));
    ::close(pidfd);
    EXPECT_TRUE(fs::exists("/proc/" + std::to_string(pid))) << "a zombie until reaped";

    const auto stopped = stop(*anvil);
    EXPECT_TRUE(stopped.ok()) << stopped.message;
    EXPECT_TRUE(stopped.already_exited);
    EXPECT_EQ(stopped.status, "was killed by SIGKILL");
    EXPECT_TRUE(process_gone(pid));
}

TEST_F(AnvilProcessTest, DestructorKillsReapsAndRemovesHome) {
    auto anvil = spawn_ok(options_);
    ASSERT_TRUE(anvil);
    const pid_t pid = anvil->pid();
    const fs::path home = anvil->home_dir();
    ASSERT_TRUE(fs::is_directory(home));
    anvil.reset();
    EXPECT_TRUE(process_gone(pid));
    EXPECT_FALSE(fs::exists(home));
}

TEST_F(AnvilProcessTest, EightParallelSpawnsOnOneIoContextAllBecomeReady) {
    constexpr int kCount = 8;
    std::vector<std::unique_ptr<AnvilProcess>> anvils(kCount);
    std::vector<std::string> errors;
    int pending = kCount;
    const auto t0 = Clock::now();
    for (int i = 0; i < kCount; ++i) {
        AnvilOptions options = options_;
        options.chain_id = 1000 + static_cast<std::uint64_t>(i);
        asio::co_spawn(io_, AnvilProcess::spawn(options),
                       [&, i](std::exception_ptr e, AnvilProcess::SpawnResult r) {
                           --pending;
                           if (e) {
                               errors.push_back("exception");
                           } else if (!r) {
                               errors.push_back(r.error().message);
                           } else {
                               anvils[static_cast<std::size_t>(i)] = std::move(*r);
                           }
                       });
    }
    while (pending > 0) {
        io_.run_one();
    }
    const auto ready = Clock::now() - t0;
    ASSERT_TRUE(errors.empty()) << errors.front();

    std::set<std::uint16_t> ports;
    for (int i = 0; i < kCount; ++i) {
        const auto& anvil = anvils[static_cast<std::size_t>(i)];
        ports.insert(anvil->port());
        std::ostringstream hex;
        hex << "0x" << std::hex << 1000 + i;
        EXPECT_EQ(rpc(anvil->url(), "eth_chainId"), boost::json::value(hex.str()));
    }
    EXPECT_EQ(ports.size(), static_cast<std::size_t>(kCount));

    std::vector<StopResult> stops;
    const auto s0 = Clock::now();
    auto stop_all = [&]() -> asio::awaitable<bool> {
        for (auto& anvil : anvils) {
            asio::co_spawn(io_, anvil->stop(), [&](std::exception_ptr, StopResult r) {
                stops.push_back(std::move(r));
            });
        }
        co_return true;
    };
    run(io_, stop_all());
    while (stops.size() < static_cast<std::size_t>(kCount)) {
        io_.run_one();
    }
    const auto stopped = Clock::now() - s0;
    for (const auto& s : stops) {
        EXPECT_TRUE(s.ok()) << s.message;
    }
    for (const auto& anvil : anvils) {
        EXPECT_TRUE(process_gone(anvil->pid()));
    }
    std::cout << "[anvil-timing] " << kCount << " parallel spawns ready after " << ms(ready)
              << " ms, all stopped after " << ms(stopped) << " ms\n";
}

TEST_F(AnvilProcessTest, PdeathsigKillsAnvilWhenItsOwnerDies) {
    int report[2];
    ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
    // The owner dies by SIGKILL and cannot remove a private HOME; give it one we remove.
    options_.home_dir = (scratch_ / "orphan-home").string();
    const pid_t owner = ::fork();
    ASSERT_GE(owner, 0);
    if (owner == 0) {
        // The owner: spawn anvil, report its pid, then wait to be killed.
        asio::io_context io;
        auto spawned = run(io, AnvilProcess::spawn(options_));
        const pid_t pid = spawned ? (*spawned)->pid() : -1;
        (void)!::write(report[1], &pid, sizeof pid);
        for (;;) {
            ::pause();
        }
    }
    ::close(report[1]);
    pid_t anvil_pid = -1;
    pollfd p{report[0], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 15000), 1);
    ASSERT_EQ(::read(report[0], &anvil_pid, sizeof anvil_pid),
              static_cast<ssize_t>(sizeof anvil_pid));
    ::close(report[0]);
    ASSERT_GT(anvil_pid, 0);
    const int anvil_fd = open_pidfd(anvil_pid);
    ASSERT_GE(anvil_fd, 0);

    ASSERT_EQ(::kill(owner, SIGKILL), 0);
    ASSERT_EQ(::waitpid(owner, nullptr, 0), owner);
    EXPECT_TRUE(pidfd_exits_within(anvil_fd, 5000ms)) << "anvil outlived its owner";
    ::close(anvil_fd);
}

}  // namespace
}  // namespace forkrun::forks
