// The wire conventions of API.md: envelope, request ids, content types, body limit, 404/405.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

class ApiEnvelopeTest : public ApiSharedServerTest {};

std::set<std::string> allow_methods(const HttpResponse& r) {
    std::set<std::string> methods;
    std::istringstream in(r.header("Allow"));
    std::string item;
    while (std::getline(in, item, ',')) {
        std::string m = trim(item);
        std::transform(m.begin(), m.end(), m.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (!m.empty()) {
            methods.insert(m);
        }
    }
    return methods;
}

/// Nothing a user should never see: source paths, exception texts, secrets.
void expect_no_internals(const HttpResponse& r) {
    EXPECT_EQ(r.body.find(FORKRUN_SOURCE_DIR), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find(".cpp"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find(".hpp"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("what()"), std::string::npos) << r.body;
    for (const auto& token : all_tokens()) {
        EXPECT_EQ(r.body.find(token), std::string::npos) << "token in a response: " << r.body;
    }
}

TEST_F(ApiEnvelopeTest, HealthzAnswersWithoutAuth) {
    HttpResponse r = api().get("/healthz", std::nullopt);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(str_at(data_of(r), "status"), "ok");
    EXPECT_EQ(str_at(data_of(r), "version"), FORKRUN_VERSION);
}

TEST_F(ApiEnvelopeTest, ValidRequestIdIsEchoedOnSuccessAndError) {
    const std::string id = "abc-123.XYZ_" + random_hex(8);
    const std::string longest(128, 'r');
    for (const std::string& sent : {id, longest, std::string("a")}) {
        for (const std::string& target : {std::string("/healthz"), std::string("/v1/nope")}) {
            HttpResponse r = api().get(target, kTokenARw, {{"X-Request-Id", sent}});
            EXPECT_EQ(request_id_of(r), sent) << target;
            EXPECT_EQ(r.header("X-Request-Id"), sent) << target;
        }
    }
    // On a 401 too.
    HttpResponse r = api().get("/v1/runs", std::nullopt, {{"X-Request-Id", id}});
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.header("X-Request-Id"), id);
}

TEST_F(ApiEnvelopeTest, InvalidRequestIdIsReplacedByAFreshUniqueOne) {
    std::set<std::string> seen;
    for (const std::string& sent :
         {std::string("has space"), std::string(129, 'x'), std::string("semi;colon"),
          std::string("slash/id"), std::string("caf\xc3\xa9")}) {
        HttpResponse r = api().get("/healthz", std::nullopt, {{"X-Request-Id", sent}});
        ASSERT_EQ(r.status, 200) << r.body;
        const std::string got = request_id_of(r);
        EXPECT_NE(got, sent);
        EXPECT_FALSE(got.empty());
        EXPECT_EQ(r.header("X-Request-Id"), got);
        EXPECT_TRUE(seen.insert(got).second) << "request id " << got << " handed out twice";
    }
    for (int i = 0; i < 5; ++i) {
        HttpResponse r = api().get("/healthz", std::nullopt);
        EXPECT_TRUE(seen.insert(request_id_of(r)).second) << "request id handed out twice";
    }
}

TEST_F(ApiEnvelopeTest, UnknownRouteIs404) {
    for (const std::string target : {"/index.html", "/assets/nope.js", "/v1", "/v1/run", "/v2/runs",
                                     "/v1/runs/abc/def/ghi", "/healthz/x"}) {
        HttpResponse r = api().get(target);
        EXPECT_EQ(r.status, 404) << target << ": " << r.body;
        expect_no_internals(r);
    }
    const json::object run = api().create_ok(quick_run(unique_workflow_id("route")));
    ASSERT_FALSE(run.empty());
    HttpResponse r = api().get("/v1/runs/" + str_at(run, "id") + "/nope");
    EXPECT_EQ(r.status, 404) << r.body;
}

// The dashboard's files need no token, and each says what it is and where it may connect.
TEST_F(ApiEnvelopeTest, DashboardIsServedWithoutAToken) {
    const std::vector<std::pair<std::string, std::string>> files{
        {"/", "text/html; charset=utf-8"},
        {"/assets/app.js", "text/javascript; charset=utf-8"},
        {"/assets/app.css", "text/css; charset=utf-8"}};
    for (const auto& [target, type] : files) {
        // Not an envelope: send() is told not to check for one.
        HttpResponse r = api().send(make_request("GET", target), false);
        EXPECT_EQ(r.status, 200) << target;
        EXPECT_EQ(r.header("Content-Type"), type) << target;
        EXPECT_NE(r.header("Content-Security-Policy").find("connect-src 'self'"), std::string::npos)
            << target;
        EXPECT_EQ(r.header("Cache-Control"), "no-cache") << target;
        EXPECT_FALSE(r.body.empty()) << target;
    }
    EXPECT_NE(api().send(make_request("GET", "/"), false).body.find("/assets/app.js"),
              std::string::npos);
    HttpResponse post = api().post_json("/", json::object{}, std::nullopt);
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("Allow"), "GET");
}

TEST_F(ApiEnvelopeTest, WrongMethodIs405WithAllow) {
    const json::object run = api().create_ok(quick_run(unique_workflow_id("method")));
    ASSERT_FALSE(run.empty());
    const std::string id = str_at(run, "id");
    struct Case {
        std::string method;
        std::string target;
        std::set<std::string> allowed;
    };
    const std::vector<Case> cases{
        {"DELETE", "/v1/runs", {"GET", "POST"}},
        {"PUT", "/v1/runs", {"GET", "POST"}},
        {"PATCH", "/v1/runs", {"GET", "POST"}},
        {"DELETE", "/v1/runs/" + id, {"GET"}},
        {"PUT", "/v1/runs/" + id, {"GET"}},
        {"POST", "/v1/runs/" + id, {"GET"}},
        {"GET", "/v1/runs/" + id + "/cancel", {"POST"}},
        {"DELETE", "/v1/runs/" + id + "/cancel", {"POST"}},
    };
    for (const Case& c : cases) {
        HttpRequest request = make_request(c.method, c.target);
        request.headers.emplace_back("Authorization", std::string("Bearer ") + kTokenARw);
        if (c.method != "GET" && c.method != "DELETE") {
            request.body = "{}";
            request.headers.emplace_back("Content-Type", "application/json");
        }
        HttpResponse r = api().send(request);
        EXPECT_EQ(r.status, 405) << c.method << " " << c.target << ": " << r.body;
        const auto allowed = allow_methods(r);
        for (const auto& m : c.allowed) {
            EXPECT_TRUE(allowed.contains(m)) << c.method << " " << c.target << ": Allow '"
                                             << r.header("Allow") << "' lacks " << m;
        }
        EXPECT_FALSE(allowed.contains(c.method))
            << c.method << " " << c.target << ": Allow '" << r.header("Allow") << "'";
    }
    // None of those touched the run.
    HttpResponse after = api().run(id);
    ASSERT_EQ(after.status, 200);
    EXPECT_EQ(str_at(data_of(after), "status"), "success");
}

TEST_F(ApiEnvelopeTest, MalformedJsonIs400) {
    for (const std::string body :
         {"{\"workflowId\": ", "{\"a\": 1} trailing", "", "not json", "{'single': 1}"}) {
        HttpRequest request = make_request("POST", "/v1/runs", body);
        request.headers = {{"Content-Type", "application/json"},
                           {"Authorization", std::string("Bearer ") + kTokenARw}};
        HttpResponse r = api().send(request);
        EXPECT_EQ(r.status, 400) << "body '" << body << "': " << r.body;
        expect_no_internals(r);
    }
}

TEST_F(ApiEnvelopeTest, JsonThatIsNotAnObjectIs400) {
    for (const json::value& body : {json::value(json::array{1, 2}), json::value("text"),
                                    json::value(42), json::value(nullptr)}) {
        HttpResponse r = api().post_json("/v1/runs", body);
        EXPECT_EQ(r.status, 400) << json::serialize(body) << ": " << r.body;
    }
}

TEST_F(ApiEnvelopeTest, BodyThatIsNotJsonIs415AndCreatesNothing) {
    const std::string workflow_id = unique_workflow_id("ctype");
    const std::string body = json::serialize(quick_run(workflow_id));
    for (const std::string type :
         {"text/plain", "application/x-www-form-urlencoded", "application/xml"}) {
        HttpRequest request = make_request("POST", "/v1/runs", body);
        request.headers = {{"Content-Type", type},
                           {"Authorization", std::string("Bearer ") + kTokenARw}};
        HttpResponse r = api().send(request);
        EXPECT_EQ(r.status, 415) << type << ": " << r.body;
    }
    HttpResponse list = api().get("/v1/runs?workflowId=" + workflow_id);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_TRUE(data_of(list).at("runs").as_array().empty()) << list.body;
}

TEST_F(ApiEnvelopeTest, JsonWithCharsetParameterIsAccepted) {
    HttpRequest request =
        make_request("POST", "/v1/runs", json::serialize(quick_run(unique_workflow_id("charset"))));
    request.headers = {{"Content-Type", "application/json; charset=utf-8"},
                       {"Authorization", std::string("Bearer ") + kTokenARw}};
    HttpResponse r = api().send(request);
    EXPECT_EQ(r.status, 201) << r.body;
}

/// A valid request whose body is `size` bytes, padded through a declared string prop.
std::string padded_run_body(const std::string& workflow_id, std::size_t size) {
    json::object body = run_request(workflow_id, json::object{{"root", root()}},
                                    json::array{json::object{{"key", "big"}, {"type", "string"}}},
                                    json::object{{"big", ""}});
    const std::size_t base = json::serialize(body).size();
    body["propValues"].as_object()["big"] = std::string(size - base, 'x');
    std::string text = json::serialize(body);
    EXPECT_EQ(text.size(), size);
    return text;
}

TEST_F(ApiEnvelopeTest, BodyOverOneMebibyteIs413) {
    const std::string workflow_id = unique_workflow_id("big");
    HttpRequest request =
        make_request("POST", "/v1/runs", padded_run_body(workflow_id, 1048576 + 4096));
    request.headers = {{"Content-Type", "application/json"},
                       {"Authorization", std::string("Bearer ") + kTokenARw}};
    HttpResponse r = api().send(request);
    EXPECT_EQ(r.status, 413) << r.transport_error << " " << r.body.substr(0, 500);

    // The server is still there, and nothing was created.
    HttpResponse list = api().get("/v1/runs?workflowId=" + workflow_id);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_TRUE(data_of(list).at("runs").as_array().empty());
}

TEST_F(ApiEnvelopeTest, BodyUnderTheDefaultLimitIsAccepted) {
    const std::string workflow_id = unique_workflow_id("nearlimit");
    HttpRequest request = make_request("POST", "/v1/runs", padded_run_body(workflow_id, 1000000));
    request.headers = {{"Content-Type", "application/json"},
                       {"Authorization", std::string("Bearer ") + kTokenARw}};
    HttpResponse r = api().send(request);
    EXPECT_EQ(r.status, 201) << r.transport_error << " " << r.body.substr(0, 500);
}

TEST_F(ApiEnvelopeTest, ErrorResponsesCarryAnEnvelopeWithNullOrObjectData) {
    // The helpers check the envelope on every response; these add the ones other tests lack.
    HttpResponse r = api().get("/v1/runs/" + std::string(22, 'A'));
    EXPECT_EQ(r.status, 404);
    expect_no_internals(r);
    r = api().get("/v1/runs", "not-a-token");
    EXPECT_EQ(r.status, 401);
    expect_no_internals(r);
}

}  // namespace
}  // namespace forkrun::http::test
