// The server process as a user runs it: CLI, shutdown on signals, misbehaving clients, limits.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <regex>
#include <string>
#include <vector>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

using Clock = std::chrono::steady_clock;

/// Each test starts (and usually stops) its own server.
class ApiServerTest : public ::testing::Test {
  protected:
    static std::unique_ptr<ServerProcess> start(ServerOptions options = {}) {
        return std::make_unique<ServerProcess>(std::move(options));
    }
};

ServerOptions with_args(std::vector<std::string> args) {
    ServerOptions options;
    options.extra_args = std::move(args);
    return options;
}

/// A raw request answered with a 4xx or a closed connection; never a 2xx, never a hang.
void expect_refused(RawConnection& connection, const std::string& what) {
    const auto head = connection.read_response_head(Clock::now() + 10s);
    if (head.data.empty()) {
        EXPECT_TRUE(head.closed) << what << ": neither an answer nor a close within 10 s";
        return;
    }
    const auto status = raw_status(head.data);
    ASSERT_TRUE(status) << what << ": not an HTTP response: " << head.data.substr(0, 200);
    EXPECT_GE(*status, 400) << what;
    EXPECT_LT(*status, 500) << what;
}

TEST_F(ApiServerTest, VersionAndHelp) {
    const CommandResult version = run_forkrun({"--version"});
    EXPECT_TRUE(version.status.clean()) << version.status.describe();
    EXPECT_NE(version.out.find(FORKRUN_VERSION), std::string::npos) << version.out;

    const CommandResult help = run_forkrun({"serve", "--help"});
    EXPECT_TRUE(help.status.clean()) << help.status.describe();
    EXPECT_NE((help.out + help.err).find("--listen"), std::string::npos) << help.out << help.err;
    EXPECT_NE((help.out + help.err).find("--tokens"), std::string::npos) << help.out << help.err;
}

TEST_F(ApiServerTest, SigtermWhileARunWaitsExitsCleanlyAndQuickly) {
    auto server = start();
    Api api(server->base_url());
    const json::object run = api.create_ok(wait_run(unique_workflow_id("sigterm"), 30));
    const std::string id = str_at(run, "id");
    ASSERT_FALSE(id.empty());
    api.poll_run(id, [](const json::object& r) { return node_status(r, "w") == "waiting"; });

    const ExitStatus status = server->stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe() << "\n" << server->stderr_text();
    EXPECT_LT(status.elapsed, 5s) << "a live 30 s wait must not hold up shutdown";
}

TEST_F(ApiServerTest, SigintExitsCleanly) {
    auto server = start();
    Api api(server->base_url());
    ASSERT_FALSE(api.create_ok(wait_run(unique_workflow_id("sigint"), 30)).empty());
    const ExitStatus status = server->stop(SIGINT, 10s);
    EXPECT_TRUE(status.clean()) << status.describe() << "\n" << server->stderr_text();
    EXPECT_LT(status.elapsed, 5s);
}

TEST_F(ApiServerTest, SigtermAnswersTheRequestsInFlightBeforeExiting) {
    auto server = start();
    Api api(server->base_url());
    const std::string id = str_at(api.create_ok(wait_run(unique_workflow_id("drain"), 30)), "id");
    ASSERT_FALSE(id.empty());
    auto poll = std::async(std::launch::async, [&] {
        return api.get("/v1/runs/" + id + "?waitUntil=terminal&timeoutMs=30000");
    });
    ASSERT_EQ(poll.wait_for(500ms), std::future_status::timeout) << "the long poll is waiting";

    const ExitStatus status = server->stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe() << "\n" << server->stderr_text();
    EXPECT_LT(status.elapsed, 5s) << "the drain waits for answers, not for a timeout";
    const HttpResponse r = poll.get();
    ASSERT_EQ(r.status, 200) << r.transport_error << r.body;
    EXPECT_EQ(str_at(data_of(r), "status"), "cancelled") << r.body;
}

TEST_F(ApiServerTest, SilentClientsDoNotStopOthersBeingServed) {
    auto server = start();
    Api api(server->base_url());
    std::vector<RawConnection> silent;
    for (int i = 0; i < 16; ++i) {
        silent.emplace_back(server->port());
    }
    // One that stops half-way through its headers, and one half-way through its body.
    RawConnection partial_head(server->port());
    ASSERT_TRUE(partial_head.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    RawConnection partial_body(server->port());
    ASSERT_TRUE(partial_body.send_all(
        std::string("POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") + kTokenARw +
        "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"work"));

    for (int i = 0; i < 5; ++i) {
        HttpResponse r = api.get("/healthz", std::nullopt);
        EXPECT_EQ(r.status, 200) << r.transport_error;
        EXPECT_LT(r.elapsed, 2s);
    }
    const json::object run = api.create_ok(quick_run(unique_workflow_id("silent")));
    EXPECT_FALSE(run.empty());
}

TEST_F(ApiServerTest, ReadTimeoutEndsAStalledRequest) {
    // --read-timeout-ms: "a started request must arrive within N ms".
    auto server = start(with_args({"--read-timeout-ms", "300"}));
    RawConnection stalled(server->port());
    ASSERT_TRUE(stalled.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    const auto start = Clock::now();
    const auto result = stalled.read_until_closed(start + 10s);
    EXPECT_TRUE(result.closed) << "a request stalled half-way is never given up on";
    EXPECT_LT(Clock::now() - start, 5s);
    if (!result.data.empty()) {
        const auto status = raw_status(result.data);
        EXPECT_TRUE(status && *status >= 400 && *status < 500) << result.data;
    }
    Api api(server->base_url());
    EXPECT_EQ(api.get("/healthz", std::nullopt).status, 200);
}

TEST_F(ApiServerTest, TimeoutsCloseAConnectionThatNeverSpeaks) {
    auto server = start(with_args({"--read-timeout-ms", "300", "--idle-timeout-ms", "300"}));
    RawConnection silent(server->port());
    const auto start = Clock::now();
    const auto result = silent.read_until_closed(start + 10s);
    EXPECT_TRUE(result.closed) << "a connection that sends nothing is held open forever";
    EXPECT_LT(Clock::now() - start, 5s);
}

TEST_F(ApiServerTest, MalformedHttpIsRefusedAndTheServerCarriesOn) {
    auto server = start();
    const std::vector<std::pair<std::string, std::string>> cases{
        {"garbage", "THIS IS NOT HTTP\r\n\r\n"},
        {"header without colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"},
        {"bad content length",
         "POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}"},
        {"bad chunk",
         "POST /v1/runs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         "zz\r\n{}\r\n0\r\n\r\n"},
    };
    for (const auto& [what, bytes] : cases) {
        RawConnection connection(server->port());
        connection.send_all(bytes);
        expect_refused(connection, what);
    }
    Api api(server->base_url());
    EXPECT_EQ(api.get("/healthz", std::nullopt).status, 200);
}

TEST_F(ApiServerTest, OversizedHeadersAreRefused) {
    auto server = start();
    RawConnection connection(server->port());
    connection.send_all(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'h') + "\r\n\r\n");
    expect_refused(connection, "20 KiB header");
    Api api(server->base_url());
    EXPECT_EQ(api.get("/healthz", std::nullopt).status, 200);
}

TEST_F(ApiServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    auto server = start();
    RawConnection connection(server->port());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(connection.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
        const auto head = connection.read_response_head(Clock::now() + 5s);
        ASSERT_EQ(raw_status(head.data), 200) << head.data;
        // Consume the body so the next response starts cleanly.
        const auto length_at = to_lower(head.data).find("content-length:");
        ASSERT_NE(length_at, std::string::npos) << head.data;
        const std::size_t length = std::stoul(head.data.substr(length_at + 15));
        const std::size_t body_at = head.data.find("\r\n\r\n") + 4;
        const std::size_t have = head.data.size() - body_at;
        if (have < length) {
            const auto rest = connection.read_until(
                Clock::now() + 5s, [&](const std::string& d) { return d.size() >= length - have; });
            ASSERT_EQ(rest.data.size(), length - have);
        }
    }
}

TEST_F(ApiServerTest, BodyLimitOptionIsHonoured) {
    auto server = start(with_args({"--body-limit", "2048"}));
    Api api(server->base_url());
    json::object body = run_request(unique_workflow_id("limit"), json::object{{"root", root()}},
                                    json::array{json::object{{"key", "pad"}, {"type", "string"}}},
                                    json::object{{"pad", std::string(4096, 'p')}});
    EXPECT_EQ(api.create(body).status, 413);
    EXPECT_EQ(api.create(quick_run(unique_workflow_id("limit"))).status, 201);
}

TEST_F(ApiServerTest, WithoutTokensFileADevTokenIsPrinted) {
    ServerOptions options;
    options.with_tokens = false;
    auto server = start(options);
    const auto match =
        server->wait_for_stdout(std::regex(R"(Bearer ([A-Za-z0-9._~+/=-]+))"), Clock::now() + 10s);
    ASSERT_TRUE(match) << "no curl line with a bearer token on stdout:\n" << server->stdout_text();
    const std::string token = match->at(1);
    Api api(server->base_url());
    const json::object run = api.create_ok(quick_run(unique_workflow_id("dev")), token);
    ASSERT_FALSE(run.empty());
    EXPECT_EQ(str_at(run, "organizationId"), "org_dev");
    EXPECT_EQ(api.run(str_at(run, "id"), token).status, 200);
    // The dev token is a secret too.
    EXPECT_EQ(server->stderr_text().find(token), std::string::npos);
}

}  // namespace
}  // namespace forkrun::http::test
