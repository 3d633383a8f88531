// GET /v1/runs/{id}: unknown and malformed ids, and the long-poll for pipelines.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

class ApiGetTest : public ApiSharedServerTest {};

using std::chrono::milliseconds;

TEST_F(ApiGetTest, UnknownRunIs404) {
    const json::object run = api().create_ok(quick_run(unique_workflow_id("unknown")));
    ASSERT_FALSE(run.empty());
    std::string unknown = str_at(run, "id");
    unknown.back() = unknown.back() == '0' ? '1' : '0';
    HttpResponse r = api().run(unknown);
    EXPECT_EQ(r.status, 404) << r.body;
}

TEST_F(ApiGetTest, MalformedIdIs404) {
    const std::vector<std::string> ids{"string",
                                       "x",
                                       "0",
                                       "abc%20def",
                                       "%2e%2e",
                                       "a%2Fb",
                                       "run_%21%21%21%21%21%21%21%21%21%21",
                                       std::string(300, 'a')};
    for (const std::string& id : ids) {
        HttpResponse r = api().run(id);
        EXPECT_EQ(r.status, 404) << "id '" << id << "': " << r.body;
    }
}

TEST_F(ApiGetTest, LongPollAnswersWhenTheRunEnds) {
    const json::object run = api().create_ok(wait_run(unique_workflow_id("poll"), 0.3));
    ASSERT_FALSE(run.empty());
    const auto start = std::chrono::steady_clock::now();
    HttpResponse r =
        api().get("/v1/runs/" + str_at(run, "id") + "?waitUntil=terminal&timeoutMs=20000");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(is_run(data_of(r)));
    EXPECT_EQ(str_at(data_of(r), "status"), "success") << r.body;
    EXPECT_LT(elapsed, 5s) << "the long-poll should answer soon after the 0.3 s wait ends";
    EXPECT_EQ(node_status(data_of(r), "w"), "success");
}

TEST_F(ApiGetTest, LongPollAnswersWithTheCurrentRunAtTimeout) {
    const json::object run = api().create_ok(wait_run(unique_workflow_id("polltimeout"), 30));
    ASSERT_FALSE(run.empty());
    const std::string id = str_at(run, "id");
    const auto start = std::chrono::steady_clock::now();
    HttpResponse r = api().get("/v1/runs/" + id + "?waitUntil=terminal&timeoutMs=500");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(is_run(data_of(r)));
    EXPECT_FALSE(is_terminal(str_at(data_of(r), "status"))) << r.body;
    EXPECT_GE(elapsed, 400ms) << "answered before the timeout";
    EXPECT_LT(elapsed, 5s) << "answered long after the timeout";
    api().cancel(id);
}

TEST_F(ApiGetTest, LongPollAnswersWhenTheRunIsCancelled) {
    const json::object run = api().create_ok(wait_run(unique_workflow_id("pollcancel"), 30));
    ASSERT_FALSE(run.empty());
    const std::string id = str_at(run, "id");
    auto poll = std::async(std::launch::async, [&] {
        return api().client().send([&] {
            HttpRequest request =
                make_request("GET", "/v1/runs/" + id + "?waitUntil=terminal&timeoutMs=30000");
            request.headers.emplace_back("Authorization", std::string("Bearer ") + kTokenARw);
            return request;
        }());
    });
    // Cancel once the run is visibly in its wait.
    api().poll_run(id, [](const json::object& r) { return node_status(r, "w") == "waiting"; });
    const auto cancelled_at = std::chrono::steady_clock::now();
    HttpResponse cancel = api().cancel(id);
    ASSERT_EQ(cancel.status, 200) << cancel.body;
    ASSERT_EQ(poll.wait_for(10s), std::future_status::ready) << "long-poll still waiting";
    HttpResponse r = poll.get();
    EXPECT_TRUE(is_envelope(r));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(str_at(data_of(r), "status"), "cancelled") << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, 5s);
}

TEST_F(ApiGetTest, LongPollOnATerminalRunAnswersAtOnce) {
    const json::object run = api().create_ok(quick_run(unique_workflow_id("polldone")));
    ASSERT_FALSE(run.empty());
    const std::string id = str_at(run, "id");
    api().wait_terminal(id);
    HttpResponse r = api().get("/v1/runs/" + id + "?waitUntil=terminal&timeoutMs=60000");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_LT(r.elapsed, 5s);
    EXPECT_EQ(str_at(data_of(r), "status"), "success");
    HttpResponse running = api().get("/v1/runs/" + id + "?waitUntil=running&timeoutMs=60000");
    ASSERT_EQ(running.status, 200) << running.body;
    EXPECT_LT(running.elapsed, 5s) << "a finished run is past 'running'";
}

TEST_F(ApiGetTest, LongPollRejectsBadParameters) {
    const json::object run = api().create_ok(quick_run(unique_workflow_id("pollbad")));
    ASSERT_FALSE(run.empty());
    const std::string base = "/v1/runs/" + str_at(run, "id");
    for (const std::string query :
         {"?waitUntil=terminal&timeoutMs=60001", "?waitUntil=terminal&timeoutMs=999999999999",
          "?waitUntil=finished&timeoutMs=100", "?waitUntil=&timeoutMs=100",
          "?waitUntil=terminal&timeoutMs=abc", "?waitUntil=terminal&timeoutMs=-1"}) {
        HttpResponse r = api().get(base + query);
        EXPECT_EQ(r.status, 400) << query << ": " << r.body;
        EXPECT_LT(r.elapsed, 5s) << query;
    }
}

}  // namespace
}  // namespace forkrun::http::test
