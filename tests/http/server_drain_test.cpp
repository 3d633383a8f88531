// http::Server::wait_idle, in process: the drain at shutdown waits for the answers in flight,
// woken by the last one rather than polling, and gives up at its deadline.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "controller/controller.hpp"
#include "http/api.hpp"
#include "http/api_fixture.hpp"
#include "http/auth.hpp"
#include "http/server.hpp"

namespace forkrun::http::test {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

/// A Server on one HTTP thread over a Controller on an execution thread of its own.
class ServerDrainTest : public ::testing::Test {
  protected:
    ServerDrainTest() {
        tokens_.add(kTokenARw, {{"org_a", "alice"}, kRunsRead | kRunsWrite});
        controller_.emplace(controller::ControllerConfig{}, exec_ioc_.get_executor());
        api_.emplace(*controller_, tokens_, ApiOptions{});
        ServerConfig config;
        config.port = 0;
        config.access_log = false;
        server_.emplace(std::vector<asio::io_context*>{&http_ioc_}, *api_, config);
        const auto ep = server_->start();
        client_.emplace("http://127.0.0.1:" + std::to_string(ep.port()));
    }

    // What `forkrun serve` does at SIGTERM, and its order of destruction.
    ~ServerDrainTest() override {
        server_->stop_accepting();
        asio::co_spawn(exec_ioc_, controller_->shutdown(), asio::use_future).get();
        wait_idle(5s);
        http_ioc_.stop();
        http_thread_.join();
        client_.reset();
        server_.reset();
        api_.reset();
        controller_.reset();
        exec_ioc_.stop();
        exec_thread_.join();
    }

    /// A run that waits 30 s, and a long poll of it that answers after `timeout_ms`.
    std::future<HttpResponse> long_poll(int timeout_ms) {
        const std::string id =
            str_at(client_->create_ok(wait_run(unique_workflow_id("drain"), 30)), "id");
        EXPECT_FALSE(id.empty());
        // The create counts until its answer is logged, a moment after the client has it.
        wait_for_in_flight(0);
        auto poll = std::async(std::launch::async, [this, id, timeout_ms] {
            return client_->get("/v1/runs/" + id +
                                "?waitUntil=terminal&timeoutMs=" + std::to_string(timeout_ms));
        });
        wait_for_in_flight(1);
        return poll;
    }

    void wait_for_in_flight(std::size_t n) {
        const auto give_up = Clock::now() + 5s;
        while (server_->in_flight() != n && Clock::now() < give_up) {
            std::this_thread::sleep_for(5ms);
        }
        EXPECT_EQ(server_->in_flight(), n);
    }

    bool wait_idle(Clock::duration bound) {
        return asio::co_spawn(http_ioc_, server_->wait_idle(Clock::now() + bound), asio::use_future)
            .get();
    }

    asio::io_context exec_ioc_{1};
    asio::executor_work_guard<asio::io_context::executor_type> exec_work_ =
        asio::make_work_guard(exec_ioc_);
    std::thread exec_thread_{[this] { exec_ioc_.run(); }};
    asio::io_context http_ioc_{1};
    asio::executor_work_guard<asio::io_context::executor_type> http_work_ =
        asio::make_work_guard(http_ioc_);
    std::thread http_thread_{[this] { http_ioc_.run(); }};
    TokenStore tokens_;
    std::optional<controller::Controller> controller_;
    std::optional<http::Api> api_;
    std::optional<Server> server_;
    std::optional<Api> client_;
};

TEST_F(ServerDrainTest, CompletesAtOnceWithNothingInFlight) {
    const auto start = Clock::now();
    EXPECT_TRUE(wait_idle(5s));
    EXPECT_LT(Clock::now() - start, 1s);
}

TEST_F(ServerDrainTest, CompletesWhenTheLastAnswerIsWritten) {
    auto poll = long_poll(800);
    const auto start = Clock::now();
    EXPECT_TRUE(wait_idle(10s));
    const auto waited = Clock::now() - start;
    EXPECT_EQ(server_->in_flight(), 0u);
    EXPECT_GT(waited, 300ms) << "the long poll was still in flight";
    EXPECT_LT(waited, 3s) << "woken when it was answered, not at the deadline";
    ASSERT_EQ(poll.wait_for(2s), std::future_status::ready) << "answered before the wakeup";
    EXPECT_EQ(poll.get().status, 200);
}

TEST_F(ServerDrainTest, GivesUpAtTheDeadline) {
    auto poll = long_poll(1500);
    const auto start = Clock::now();
    EXPECT_FALSE(wait_idle(300ms));
    const auto waited = Clock::now() - start;
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 2s);
    EXPECT_EQ(server_->in_flight(), 1u);
    EXPECT_EQ(poll.get().status, 200);
}

}  // namespace
}  // namespace forkrun::http::test
