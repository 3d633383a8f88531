// Idempotent creates over a real server: a repeat answers the first run with
// Idempotent-Replayed, another body is 422, keys are per organization, bad keys are 400, and
// concurrent repeats make one run.
#include <future>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

class IdempotencyTest : public ApiSharedServerTest {
  protected:
    HttpResponse create_with_key(const json::object& body,
                                 const std::string& key,
                                 const std::string& token = kTokenARw) const {
        HttpRequest request = make_request("POST", "/v1/runs", json::serialize(body));
        request.headers.emplace_back("Content-Type", "application/json");
        request.headers.emplace_back("Authorization", "Bearer " + token);
        request.headers.emplace_back("Idempotency-Key", key);
        return api().send(std::move(request));
    }

    // How many runs of `workflow_id` the organization of `token` has.
    std::size_t runs_of(const std::string& workflow_id, const std::string& token = kTokenARw) {
        auto r = api().get("/v1/runs?workflowId=" + workflow_id, token);
        EXPECT_EQ(r.status, 200) << r.body;
        return data_of(r).at("runs").as_array().size();
    }

    static std::vector<std::string> paths_of(const HttpResponse& r) {
        std::vector<std::string> out;
        for (const auto& e : errors_of(r)) {
            out.push_back(str_at(e.as_object(), "path"));
        }
        return out;
    }
};

TEST_F(IdempotencyTest, RepeatAnswersTheFirstRunInItsCurrentStateAndCreatesNothing) {
    const auto wf = unique_workflow_id("idem");
    const auto body = quick_run(wf);
    const std::string key = "deploy-" + random_hex(8);
    auto first = create_with_key(body, key);
    ASSERT_EQ(first.status, 201) << first.body;
    EXPECT_FALSE(first.has_header("Idempotent-Replayed"));
    const auto id = str_at(data_of(first), "id");
    api().wait_terminal(id);

    auto again = create_with_key(body, key);
    ASSERT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(again.header("Location"), "/v1/runs/" + id);
    EXPECT_EQ(str_at(data_of(again), "id"), id);
    // Its current state, not the state of the first answer.
    EXPECT_EQ(str_at(data_of(again), "status"), "success");
    EXPECT_NE(again.header("X-Request-Id"), first.header("X-Request-Id"));
    EXPECT_EQ(runs_of(wf), 1u);
}

TEST_F(IdempotencyTest, SameJsonWithOtherKeyOrderAndSpacingIsARepeat) {
    const auto wf = unique_workflow_id("idem");
    const std::string key = random_hex(16);
    auto first = create_with_key(quick_run(wf), key);
    ASSERT_EQ(first.status, 201) << first.body;
    // The same members, written in reverse order.
    json::object reversed;
    const auto original = quick_run(wf);
    for (auto it = original.rbegin(); it != original.rend(); ++it) {
        reversed[it->key()] = it->value();
    }
    auto again = create_with_key(reversed, key);
    EXPECT_EQ(again.status, 201) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(str_at(data_of(again), "id"), str_at(data_of(first), "id"));
}

TEST_F(IdempotencyTest, SameKeyWithAnotherBodyIs422AndCreatesNothing) {
    const auto wf = unique_workflow_id("idem");
    const std::string key = random_hex(16);
    ASSERT_EQ(create_with_key(quick_run(wf), key).status, 201);
    auto other = quick_run(wf);
    other["propValues"] = json::object{};
    other["triggerSource"] = "schedule";
    auto r = create_with_key(other, key);
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(r.body.find(key), std::string::npos) << r.body;
    EXPECT_FALSE(r.has_header("Idempotent-Replayed"));
    EXPECT_EQ(runs_of(wf), 1u);
}

TEST_F(IdempotencyTest, KeysBelongToOneOrganization) {
    const auto wf = unique_workflow_id("idem");
    const std::string key = random_hex(16);
    auto a = create_with_key(quick_run(wf), key, kTokenARw);
    auto b = create_with_key(quick_run(wf), key, kTokenBRw);
    ASSERT_EQ(a.status, 201) << a.body;
    ASSERT_EQ(b.status, 201) << b.body;
    EXPECT_FALSE(b.has_header("Idempotent-Replayed"));
    EXPECT_NE(str_at(data_of(a), "id"), str_at(data_of(b), "id"));
    EXPECT_EQ(str_at(data_of(b), "organizationId"), kOrgB);
    EXPECT_EQ(runs_of(wf, kTokenARw), 1u);
    EXPECT_EQ(runs_of(wf, kTokenBRw), 1u);
}

TEST_F(IdempotencyTest, BadKeysAre400WithTheBodysProblemsToo) {
    const auto wf = unique_workflow_id("idem");
    for (const std::string& key :
         {std::string(), std::string(256, 'k'), std::string("caf\xc3\xa9")}) {
        auto r = create_with_key(quick_run(wf), key);
        EXPECT_EQ(r.status, 400) << r.body;
        EXPECT_EQ(paths_of(r), std::vector<std::string>{"/headers/Idempotency-Key"}) << r.body;
    }
    // 255 characters is the longest key.
    EXPECT_EQ(create_with_key(quick_run(wf), std::string(255, 'k')).status, 201);
    // A bad key and a bad body: every problem in one answer.
    auto bad = quick_run(wf);
    bad.erase("workflowVersion");
    bad["isSimulaton"] = true;
    auto r = create_with_key(bad, std::string());
    EXPECT_EQ(r.status, 400) << r.body;
    const auto paths = paths_of(r);
    EXPECT_EQ(paths.size(), 3u) << r.body;
    EXPECT_NE(std::find(paths.begin(), paths.end(), "/headers/Idempotency-Key"), paths.end());
    EXPECT_NE(std::find(paths.begin(), paths.end(), "/workflowVersion"), paths.end());
    EXPECT_NE(std::find(paths.begin(), paths.end(), "/isSimulaton"), paths.end());
    EXPECT_EQ(runs_of(wf), 1u);
}

TEST_F(IdempotencyTest, ARefusedCreateFreesItsKey) {
    const auto wf = unique_workflow_id("idem");
    const std::string key = random_hex(16);
    auto bad = quick_run(wf);
    bad["workflowVersion"] = 0;
    EXPECT_EQ(create_with_key(bad, key).status, 400);
    // Not a 422: the refused body made nothing, so the key is free for the corrected one.
    auto r = create_with_key(quick_run(wf), key);
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_FALSE(r.has_header("Idempotent-Replayed"));
}

TEST_F(IdempotencyTest, ConcurrentRepeatsCreateOneRun) {
    const auto wf = unique_workflow_id("idem");
    const auto body = wait_run(wf, 30);
    const std::string key = random_hex(16);
    constexpr int kRepeats = 8;
    std::vector<std::future<HttpResponse>> answers;
    for (int i = 0; i < kRepeats; ++i) {
        answers.push_back(
            std::async(std::launch::async, [&] { return create_with_key(body, key); }));
    }
    std::set<std::string> ids;
    int fresh = 0;
    for (auto& a : answers) {
        auto r = a.get();
        ASSERT_EQ(r.status, 201) << r.body;
        ids.insert(str_at(data_of(r), "id"));
        fresh += r.has_header("Idempotent-Replayed") ? 0 : 1;
    }
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(fresh, 1);
    EXPECT_EQ(runs_of(wf), 1u);
    EXPECT_EQ(api().cancel(*ids.begin()).status, 200);
}

TEST(IdempotencyRetention, AKeyWhoseRunWasDroppedIs409AndCreatesNothing) {
    ServerOptions opts;
    opts.extra_args = {"--retain-runs", "1"};
    ServerProcess server(opts);
    Api api(server.base_url());
    const auto wf = unique_workflow_id("idem");
    const std::string key = random_hex(16);
    auto keyed = [&] {
        HttpRequest request = make_request("POST", "/v1/runs", json::serialize(quick_run(wf)));
        request.headers = {{"Content-Type", "application/json"},
                           {"Authorization", std::string("Bearer ") + kTokenARw},
                           {"Idempotency-Key", key}};
        return api.send(std::move(request));
    };
    auto first = keyed();
    ASSERT_EQ(first.status, 201) << first.body;
    api.wait_terminal(str_at(data_of(first), "id"));
    // A later run: retention keeps it and drops the finished keyed one.
    api.wait_terminal(str_at(api.create_ok(quick_run(unique_workflow_id("idem"))), "id"));
    auto again = keyed();
    EXPECT_EQ(again.status, 409) << again.body;
    EXPECT_NE(again.body.find("no longer stored"), std::string::npos) << again.body;
    EXPECT_EQ(data_of(api.get("/v1/runs?workflowId=" + wf)).at("runs").as_array().size(), 0u);
}

}  // namespace
}  // namespace forkrun::http::test
