// POST /v1/runs/{id}/cancel: the seed's endpoint, its 200/404/409 and the cancellation record.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <latch>
#include <string>
#include <vector>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

class ApiCancelTest : public ApiSharedServerTest {
  protected:
    /// A run root -> w (wait 30 s) -> after (assert), already inside its wait.
    std::string start_long_run() const {
        const json::object nodes{{"root", root({"w"})},
                                 {"w", wait_node(30, {"after"})},
                                 {"after", assert_node("1", "equals", "1")}};
        const json::object run = api().create_ok(run_request(unique_workflow_id("cancel"), nodes));
        const std::string id = str_at(run, "id");
        if (!id.empty()) {
            api().poll_run(id,
                           [](const json::object& r) { return node_status(r, "w") == "waiting"; });
        }
        return id;
    }

    /// Asserts nothing about a terminal run changes between two reads.
    void expect_unchanged(const std::string& id, const json::object& before) const {
        HttpResponse r = api().run(id);
        ASSERT_EQ(r.status, 200) << r.body;
        const json::object& after = data_of(r);
        for (const char* pointer :
             {"/status", "/finishedAt", "/totalCu", "/executionState/cancellation"}) {
            EXPECT_EQ(value_at(after, pointer), value_at(before, pointer)) << pointer;
        }
    }
};

TEST_F(ApiCancelTest, CancelStopsTheRunAndRecordsWhoWhyAndWhen) {
    const std::string id = start_long_run();
    ASSERT_FALSE(id.empty());
    const std::int64_t before = now_ms();
    HttpResponse r = api().cancel(id, kTokenARw, "deploy rolled back");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_LT(r.elapsed, 2s) << "cancelling a wait should answer within about a second";

    const json::object& run = data_of(r);
    ASSERT_TRUE(is_run(run));
    EXPECT_EQ(str_at(run, "id"), id);
    EXPECT_EQ(str_at(run, "status"), "cancelled");
    ASSERT_TRUE(is_timestamp(run.at("finishedAt"))) << r.body;
    EXPECT_GE(timestamp_ms(run.at("finishedAt")), timestamp_ms(run.at("startedAt")));
    EXPECT_EQ(number_of(run.at("totalCu")), 0.0);
    EXPECT_EQ(node_status(run, "root"), "success");
    EXPECT_EQ(node_status(run, "w"), "cancelled") << "the in-flight wait is cancelled";
    EXPECT_EQ(node_status(run, "after"), "cancelled") << "pending nodes are cancelled";

    const json::value& cancellation = run.at("executionState").at("cancellation");
    ASSERT_TRUE(cancellation.is_object()) << r.body;
    const json::object& c = cancellation.get_object();
    EXPECT_EQ(str_at(c, "requestedBy"), kSubjectA);
    EXPECT_EQ(str_at(c, "reason"), "deploy rolled back");
    ASSERT_TRUE(c.contains("requestedAt") && is_timestamp(c.at("requestedAt"))) << cancellation;
    ASSERT_TRUE(c.contains("completedAt") && is_timestamp(c.at("completedAt"))) << cancellation;
    EXPECT_GE(timestamp_ms(c.at("requestedAt")), before - 60000);
    EXPECT_LE(timestamp_ms(c.at("requestedAt")), timestamp_ms(c.at("completedAt")));
    ASSERT_TRUE(c.contains("forks") && c.at("forks").is_array()) << cancellation;
    EXPECT_TRUE(c.at("forks").get_array().empty()) << "a live run has no forks to tear down";

    expect_unchanged(id, run);
}

TEST_F(ApiCancelTest, CancelWithoutABodyWorksAsInTheSeedExamples) {
    // curl -X POST (no body, no Content-Length), as in the seed's curl and fetch examples.
    const std::string curl_id = start_long_run();
    HttpResponse curl_style = api().cancel(curl_id);
    EXPECT_EQ(curl_style.status, 200) << curl_style.body;
    EXPECT_EQ(str_at(data_of(curl_style), "status"), "cancelled");
    EXPECT_TRUE(value_at(data_of(curl_style), "/executionState/cancellation").is_object())
        << curl_style.body;
    EXPECT_TRUE(value_at(data_of(curl_style), "/executionState/cancellation/reason").is_null())
        << curl_style.body;

    // Go's http.NewRequest(..., nil) and Python's requests.post send Content-Length: 0.
    const std::string empty_id = start_long_run();
    HttpRequest request = make_request("POST", "/v1/runs/" + empty_id + "/cancel", "");
    request.headers.emplace_back("Authorization", std::string("Bearer ") + kTokenARw);
    HttpResponse empty_body = api().send(request);
    EXPECT_EQ(empty_body.status, 200) << empty_body.body;

    // An empty JSON object: no reason.
    const std::string object_id = start_long_run();
    HttpResponse empty_object =
        api().post_json("/v1/runs/" + object_id + "/cancel", json::object{});
    EXPECT_EQ(empty_object.status, 200) << empty_object.body;
    EXPECT_EQ(str_at(data_of(empty_object), "status"), "cancelled");
}

TEST_F(ApiCancelTest, SecondCancelIs409WithTheCurrentRun) {
    const std::string id = start_long_run();
    ASSERT_FALSE(id.empty());
    HttpResponse first = api().cancel(id, kTokenARw, "first");
    ASSERT_EQ(first.status, 200) << first.body;
    HttpResponse second = api().cancel(id, kTokenARw, "second");
    ASSERT_EQ(second.status, 409) << second.body;
    EXPECT_TRUE(is_run(data_of(second)));
    EXPECT_EQ(str_at(data_of(second), "id"), id);
    EXPECT_EQ(str_at(data_of(second), "status"), "cancelled");
    EXPECT_TRUE(contains_ci(message_of(second), "cancelled")) << message_of(second);
    // The first cancellation stands.
    EXPECT_EQ(data_of(second).at("finishedAt"), data_of(first).at("finishedAt"));
    EXPECT_EQ(value_at(data_of(second), "/executionState/cancellation/reason"),
              json::value("first"));
}

TEST_F(ApiCancelTest, CancellingAFinishedRunIs409NamingItsStatus) {
    const std::string ok = str_at(api().create_ok(quick_run(unique_workflow_id("done"))), "id");
    const std::string failed =
        str_at(api().create_ok(run_request(
                   unique_workflow_id("done"),
                   json::object{{"root", root({"a"})}, {"a", assert_node("1", "equals", "2")}})),
               "id");
    ASSERT_FALSE(ok.empty());
    ASSERT_FALSE(failed.empty());
    for (const auto& [id, status] :
         std::vector<std::pair<std::string, std::string>>{{ok, "success"}, {failed, "failure"}}) {
        const json::object done = api().wait_terminal(id);
        ASSERT_EQ(str_at(done, "status"), status);
        HttpResponse r = api().cancel(id, kTokenARw, "too late");
        EXPECT_EQ(r.status, 409) << r.body;
        EXPECT_TRUE(contains_ci(message_of(r), status)) << message_of(r);
        EXPECT_TRUE(is_run(data_of(r)));
        EXPECT_EQ(str_at(data_of(r), "status"), status);
        EXPECT_TRUE(value_at(data_of(r), "/executionState/cancellation").is_null()) << r.body;
        expect_unchanged(id, done);
    }
}

TEST_F(ApiCancelTest, TwoConcurrentCancelsGetOne200AndOne409) {
    for (int round = 0; round < 5; ++round) {
        const std::string id = start_long_run();
        ASSERT_FALSE(id.empty());
        std::latch go(2);
        auto cancel = [&] {
            go.arrive_and_wait();
            return api().cancel(id, kTokenARw, "race");
        };
        auto a = std::async(std::launch::async, cancel);
        auto b = std::async(std::launch::async, cancel);
        HttpResponse ra = a.get();
        HttpResponse rb = b.get();
        std::vector<long> statuses{ra.status, rb.status};
        std::sort(statuses.begin(), statuses.end());
        EXPECT_EQ(statuses, (std::vector<long>{200, 409})) << ra.body << "\n" << rb.body;
        EXPECT_EQ(str_at(data_of(ra), "status"), "cancelled");
        EXPECT_EQ(str_at(data_of(rb), "status"), "cancelled");
        EXPECT_EQ(value_at(data_of(ra), "/finishedAt"), value_at(data_of(rb), "/finishedAt"));
    }
}

TEST_F(ApiCancelTest, CancelRacingCompletionHasExactlyOneWinner) {
    for (int round = 0; round < 8; ++round) {
        const json::object run = api().create_ok(wait_run(unique_workflow_id("race"), 0.2));
        const std::string id = str_at(run, "id");
        ASSERT_FALSE(id.empty());
        // Let the server's own clock bring us close to the end of the wait.
        api().get("/v1/runs/" + id +
                  "?waitUntil=terminal&timeoutMs=" + std::to_string(150 + 10 * round));
        HttpResponse r = api().cancel(id, kTokenARw, "race");
        ASSERT_TRUE(r.status == 200 || r.status == 409) << r.body;
        const json::object final_run = api().wait_terminal(id);
        if (r.status == 200) {
            EXPECT_EQ(str_at(final_run, "status"), "cancelled") << json::serialize(final_run);
        } else {
            EXPECT_EQ(str_at(final_run, "status"), "success") << json::serialize(final_run);
            EXPECT_TRUE(contains_ci(message_of(r), "success")) << message_of(r);
        }
        EXPECT_EQ(value_at(final_run, "/finishedAt"), value_at(data_of(r), "/finishedAt"));
        expect_unchanged(id, final_run);
    }
}

TEST_F(ApiCancelTest, ReasonOver500CharactersIs400) {
    const std::string id = start_long_run();
    ASSERT_FALSE(id.empty());
    HttpResponse r = api().cancel(id, kTokenARw, std::string(501, 'r'));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(are_validation_errors(r));
    EXPECT_TRUE(has_error_at(errors_of(r), "/reason")) << r.body;
    HttpResponse still = api().run(id);
    EXPECT_FALSE(is_terminal(str_at(data_of(still), "status"))) << "a rejected cancel cancelled";

    const std::string longest(500, 'r');
    HttpResponse ok = api().cancel(id, kTokenARw, longest);
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(value_at(data_of(ok), "/executionState/cancellation/reason"), json::value(longest));
}

TEST_F(ApiCancelTest, BadCancelBodiesAreRejectedAndCancelNothing) {
    const std::string id = start_long_run();
    ASSERT_FALSE(id.empty());
    const std::string target = "/v1/runs/" + id + "/cancel";

    HttpResponse number = api().post_json(target, json::object{{"reason", 5}});
    EXPECT_EQ(number.status, 400) << number.body;
    EXPECT_TRUE(has_error_at(errors_of(number), "/reason")) << number.body;

    HttpRequest malformed = make_request("POST", target, "{\"reason\": ");
    malformed.headers = {{"Content-Type", "application/json"},
                         {"Authorization", std::string("Bearer ") + kTokenARw}};
    EXPECT_EQ(api().send(malformed).status, 400);

    HttpRequest text = make_request("POST", target, "reason=stop");
    text.headers = {{"Content-Type", "text/plain"},
                    {"Authorization", std::string("Bearer ") + kTokenARw}};
    EXPECT_EQ(api().send(text).status, 415);

    HttpResponse still = api().run(id);
    EXPECT_FALSE(is_terminal(str_at(data_of(still), "status"))) << "a rejected cancel cancelled";
    EXPECT_EQ(api().cancel(id).status, 200);
}

TEST_F(ApiCancelTest, UnknownOrMalformedRunIs404) {
    const std::string id = start_long_run();
    ASSERT_FALSE(id.empty());
    std::string unknown = id;
    unknown.back() = unknown.back() == '0' ? '1' : '0';
    for (const std::string& target :
         {unknown, std::string("string"), std::string("x"), std::string(300, 'a')}) {
        HttpResponse r = api().cancel(target, kTokenARw, "who?");
        EXPECT_EQ(r.status, 404) << target << ": " << r.body;
    }
    EXPECT_EQ(api().cancel(id).status, 200);
}

}  // namespace
}  // namespace forkrun::http::test
