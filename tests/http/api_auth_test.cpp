// Who may do what (API.md "Auth"): 401, 403, other organizations' runs are 404, hashed tokens.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

class ApiAuthTest : public ApiSharedServerTest {};

/// Replaces every occurrence of `id` so two "not found" messages can be compared.
std::string without(std::string text, const std::string& id) {
    for (auto pos = text.find(id); pos != std::string::npos; pos = text.find(id)) {
        text.replace(pos, id.size(), "{id}");
    }
    return text;
}

/// Another well-shaped id: `id` with its last character changed within the same alphabet.
std::string sibling_id(std::string id) {
    id.back() = id.back() == '0' ? '1' : '0';
    return id;
}

TEST_F(ApiAuthTest, MissingOrUnknownTokenIs401WithBearerChallenge) {
    const json::object run = api().create_ok(wait_run(unique_workflow_id("auth401"), 30));
    ASSERT_FALSE(run.empty());
    const std::string id = str_at(run, "id");
    const std::string body = json::serialize(quick_run(unique_workflow_id("auth401")));

    const std::vector<std::optional<std::string>> credentials{
        std::nullopt,                                  // no Authorization header
        "Bearer tok_unknown_0123456789",               // unknown token
        "Bearer ",                                     // empty token
        "Basic dG9rX2Ffcnc6",                          // another scheme
        std::string(kTokenARw),                        // the token without a scheme
        std::string("Bearer ") + kTokenAHashedSha256,  // the stored hash is not a token
    };
    for (const auto& credential : credentials) {
        std::vector<HttpRequest> requests{make_request("GET", "/v1/runs"),
                                          make_request("GET", "/v1/runs/" + id),
                                          make_request("POST", "/v1/runs", body),
                                          make_request("POST", "/v1/runs/" + id + "/cancel")};
        requests[2].headers.emplace_back("Content-Type", "application/json");
        for (auto& request : requests) {
            if (credential) {
                request.headers.emplace_back("Authorization", *credential);
            }
            const std::string what = request.method + " " + request.target + " with '" +
                                     credential.value_or("(none)") + "'";
            HttpResponse r = api().send(request);
            EXPECT_EQ(r.status, 401) << what << ": " << r.body;
            EXPECT_TRUE(to_lower(r.header("WWW-Authenticate")).starts_with("bearer"))
                << what << ": WWW-Authenticate '" << r.header("WWW-Authenticate") << "'";
        }
    }
    // Nothing above cancelled the run.
    HttpResponse after = api().run(id);
    ASSERT_EQ(after.status, 200);
    EXPECT_FALSE(is_terminal(str_at(data_of(after), "status"))) << after.body;
    api().cancel(id);
}

TEST_F(ApiAuthTest, UnauthenticatedLookupOfAnUnknownRunIs401Not404) {
    HttpResponse r = api().get("/v1/runs/" + std::string(22, 'Q'), std::nullopt);
    EXPECT_EQ(r.status, 401) << r.body;
}

TEST_F(ApiAuthTest, ReadOnlyTokenCannotWrite) {
    HttpResponse created = api().create(quick_run(unique_workflow_id("ro")), kTokenARo);
    EXPECT_EQ(created.status, 403) << created.body;

    const json::object run = api().create_ok(wait_run(unique_workflow_id("ro"), 30));
    ASSERT_FALSE(run.empty());
    const std::string id = str_at(run, "id");
    HttpResponse cancel = api().cancel(id, kTokenARo, "not allowed");
    EXPECT_EQ(cancel.status, 403) << cancel.body;
    HttpResponse cancel_no_body = api().cancel(id, kTokenARo);
    EXPECT_EQ(cancel_no_body.status, 403) << cancel_no_body.body;

    // It can read, and the run is untouched.
    HttpResponse read = api().run(id, kTokenARo);
    ASSERT_EQ(read.status, 200) << read.body;
    EXPECT_FALSE(is_terminal(str_at(data_of(read), "status"))) << read.body;
    HttpResponse list = api().get("/v1/runs?limit=1", kTokenARo);
    EXPECT_EQ(list.status, 200) << list.body;
    api().cancel(id);
}

TEST_F(ApiAuthTest, WriteOnlyTokenCannotRead) {
    const json::object run = api().create_ok(wait_run(unique_workflow_id("wo"), 30), kTokenAWo);
    ASSERT_FALSE(run.empty());
    const std::string id = str_at(run, "id");
    EXPECT_EQ(str_at(run, "triggeredBy"), "alice-writer");

    HttpResponse get = api().run(id, kTokenAWo);
    EXPECT_EQ(get.status, 403) << get.body;
    HttpResponse list = api().get("/v1/runs", kTokenAWo);
    EXPECT_EQ(list.status, 403) << list.body;
    HttpResponse poll =
        api().get("/v1/runs/" + id + "?waitUntil=terminal&timeoutMs=100", kTokenAWo);
    EXPECT_EQ(poll.status, 403) << poll.body;

    HttpResponse cancel = api().cancel(id, kTokenAWo);
    EXPECT_EQ(cancel.status, 200) << cancel.body;
}

TEST_F(ApiAuthTest, AnotherOrganizationsRunLooksLikeNoRunAtAll) {
    const std::string workflow_id = unique_workflow_id("org");
    const json::object run = api().create_ok(wait_run(workflow_id, 30));
    ASSERT_FALSE(run.empty());
    const std::string id = str_at(run, "id");
    const std::string unknown = sibling_id(id);
    ASSERT_NE(unknown, id);

    // GET: same answer as for a run that does not exist.
    HttpResponse theirs = api().run(id, kTokenBRw);
    HttpResponse missing = api().run(unknown, kTokenBRw);
    EXPECT_EQ(theirs.status, 404) << theirs.body;
    EXPECT_EQ(missing.status, 404) << missing.body;
    EXPECT_EQ(without(message_of(theirs), id), without(message_of(missing), unknown));
    EXPECT_EQ(theirs.body.find(workflow_id), std::string::npos) << "leaks the run: " << theirs.body;

    // Long-poll likewise.
    HttpResponse poll =
        api().get("/v1/runs/" + id + "?waitUntil=terminal&timeoutMs=100", kTokenBRw);
    EXPECT_EQ(poll.status, 404) << poll.body;

    // List: absent.
    HttpResponse list = api().get("/v1/runs?workflowId=" + workflow_id, kTokenBRw);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_TRUE(data_of(list).at("runs").as_array().empty()) << list.body;
    HttpResponse all = api().get("/v1/runs?limit=200", kTokenBRw);
    ASSERT_EQ(all.status, 200) << all.body;
    EXPECT_EQ(all.body.find(id), std::string::npos);

    // Cancel: 404 like an unknown run, and the run keeps going.
    HttpResponse cancel = api().cancel(id, kTokenBRw, "not mine");
    HttpResponse cancel_missing = api().cancel(unknown, kTokenBRw, "not mine");
    EXPECT_EQ(cancel.status, 404) << cancel.body;
    EXPECT_EQ(cancel_missing.status, 404) << cancel_missing.body;
    EXPECT_EQ(without(message_of(cancel), id), without(message_of(cancel_missing), unknown));
    HttpResponse mine = api().run(id);
    ASSERT_EQ(mine.status, 200);
    EXPECT_FALSE(is_terminal(str_at(data_of(mine), "status"))) << mine.body;

    // Using it as sourceRunId does not copy another organization's workflow.
    HttpResponse rerun = api().create(json::object{{"sourceRunId", id}}, kTokenBRw);
    EXPECT_EQ(rerun.status, 400) << rerun.body;

    api().cancel(id);
}

TEST_F(ApiAuthTest, RunsBelongToTheTokensOrganizationAndSubject) {
    const json::object a = api().create_ok(quick_run(unique_workflow_id("own")), kTokenARw);
    const json::object b = api().create_ok(quick_run(unique_workflow_id("own")), kTokenBRw);
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    EXPECT_EQ(str_at(a, "organizationId"), kOrgA);
    EXPECT_EQ(str_at(a, "triggeredBy"), kSubjectA);
    EXPECT_EQ(str_at(b, "organizationId"), kOrgB);
    EXPECT_EQ(str_at(b, "triggeredBy"), kSubjectB);
    EXPECT_EQ(api().run(str_at(b, "id"), kTokenBRw).status, 200);
    EXPECT_EQ(api().run(str_at(b, "id"), kTokenARw).status, 404);
}

TEST_F(ApiAuthTest, TokenListedBySha256Works) {
    const json::object run =
        api().create_ok(quick_run(unique_workflow_id("hashed")), kTokenAHashed);
    ASSERT_FALSE(run.empty());
    EXPECT_EQ(str_at(run, "organizationId"), kOrgA);
    EXPECT_EQ(str_at(run, "triggeredBy"), kSubjectHashed);
    // Same organization as tok_a_rw.
    EXPECT_EQ(api().run(str_at(run, "id"), kTokenARw).status, 200);
}

TEST_F(ApiAuthTest, HealthzNeedsNoToken) {
    EXPECT_EQ(api().get("/healthz", std::nullopt).status, 200);
    EXPECT_EQ(api().get("/healthz", "garbage").status, 200);
}

TEST_F(ApiAuthTest, LogsNeverContainATokenOrTheAuthorizationHeader) {
    // Exercise every token, on successes and failures, then read the server's log.
    for (const auto& token : all_tokens()) {
        api().get("/v1/runs?limit=1", token);
        api().create(quick_run(unique_workflow_id("log")), token);
        api().get("/v1/runs/" + std::string(22, 'Z'), token);
        api().get("/nope", token);
    }
    api().get("/v1/runs", "tok_never_issued_secret");
    const json::object run = api().create_ok(wait_run(unique_workflow_id("log"), 30));
    ASSERT_FALSE(run.empty());
    api().cancel(str_at(run, "id"), kTokenARw, "log check");

    // The log is written in batches: wait until the cancel's line is there.
    std::string log;
    const auto by = std::chrono::steady_clock::now() + 10s;
    while ((log = server().stderr_text()).find("/cancel") == std::string::npos &&
           std::chrono::steady_clock::now() < by) {
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(log.empty()) << "the server logs requests to stderr";
    for (const auto& token : all_tokens()) {
        EXPECT_EQ(log.find(token), std::string::npos) << "token " << token << " is in the log";
    }
    EXPECT_EQ(log.find("tok_never_issued_secret"), std::string::npos)
        << "an unknown bearer token is in the log";
    EXPECT_EQ(log.find("Bearer "), std::string::npos) << "an Authorization header is in the log";
}

}  // namespace
}  // namespace forkrun::http::test
