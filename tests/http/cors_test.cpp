// CORS: `--cors-origin` origins get preflights answered and every answer names them; any other
// origin gets no CORS header; without the flag nothing changes.
#include <cstdlib>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

constexpr const char* kOrigin = "http://dashboard.example.test:3000";
constexpr const char* kOther = "https://evil.example";

std::unique_ptr<ServerProcess> cors_server(std::vector<std::string> args = {"--cors-origin",
                                                                            kOrigin}) {
    ServerOptions opts;
    opts.extra_args = std::move(args);
    return std::make_unique<ServerProcess>(opts);
}

HttpRequest preflight(const std::string& target, const std::string& origin) {
    HttpRequest req = make_request("OPTIONS", target);
    req.headers = {{"Origin", origin},
                   {"Access-Control-Request-Method", "POST"},
                   {"Access-Control-Request-Headers", "authorization, content-type"}};
    return req;
}

// The header's comma-separated values.
std::set<std::string> values(const HttpResponse& r, const std::string& name) {
    std::set<std::string> out;
    std::string rest = r.header(name);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        out.insert(trim(rest.substr(0, comma)));
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    }
    return out;
}

TEST(Cors, PreflightFromAnAllowedOriginNamesMethodsHeadersAndMaxAge) {
    auto server = cors_server();
    Api api(server->base_url());
    for (const std::string target : {"/v1/runs", "/v1/runs/run_AAAAAAAAAAAAAAAAAAAAAA/cancel"}) {
        auto r = api.send(preflight(target, kOrigin), false);
        EXPECT_EQ(r.status, 204) << target << " " << r.body;
        EXPECT_TRUE(r.body.empty()) << r.body;
        EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kOrigin);
        EXPECT_EQ(values(r, "Access-Control-Allow-Methods"),
                  (std::set<std::string>{"GET", "POST", "OPTIONS"}));
        EXPECT_EQ(values(r, "Access-Control-Allow-Headers"),
                  (std::set<std::string>{"Authorization", "Content-Type", "Idempotency-Key",
                                         "Last-Event-ID", "X-Request-Id"}));
        EXPECT_EQ(r.header("Access-Control-Max-Age"), "600");
        EXPECT_EQ(r.header("Vary"), "Origin");
        EXPECT_FALSE(r.has_header("Access-Control-Allow-Credentials"));
    }
}

TEST(Cors, AnswersToAnAllowedOriginCarryAllowOriginAndExposeHeaders) {
    auto server = cors_server();
    Api api(server->base_url());
    auto list = api.get("/v1/runs", kTokenARw, {{"Origin", kOrigin}});
    EXPECT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(list.header("Access-Control-Allow-Origin"), kOrigin);
    EXPECT_EQ(list.header("Vary"), "Origin");
    const auto exposed = values(list, "Access-Control-Expose-Headers");
    for (const char* h :
         {"Idempotent-Replayed", "Location", "Retry-After", "X-Request-Id", "WWW-Authenticate"}) {
        EXPECT_TRUE(exposed.contains(h))
            << h << " in " << list.header("Access-Control-Expose-Headers");
    }
    // Errors too: a page must be able to read why it was refused.
    auto unauthorized = api.get("/v1/runs", std::nullopt, {{"Origin", kOrigin}});
    EXPECT_EQ(unauthorized.status, 401);
    EXPECT_EQ(unauthorized.header("Access-Control-Allow-Origin"), kOrigin);
    // And what the server refuses before routing.
    HttpRequest big = make_request("POST", "/v1/runs", std::string(1100000, ' '));
    big.headers = {{"Origin", kOrigin}, {"Content-Type", "application/json"}};
    auto too_large = api.send(big);
    EXPECT_EQ(too_large.status, 413);
    EXPECT_EQ(too_large.header("Access-Control-Allow-Origin"), kOrigin);
}

TEST(Cors, AnotherOriginGetsNoCorsHeaderAndItsPreflightIsRefused) {
    auto server = cors_server();
    Api api(server->base_url());
    auto list = api.get("/v1/runs", kTokenARw, {{"Origin", kOther}});
    EXPECT_EQ(list.status, 200);
    EXPECT_FALSE(list.has_header("Access-Control-Allow-Origin"));
    EXPECT_FALSE(list.has_header("Access-Control-Expose-Headers"));
    EXPECT_EQ(list.header("Vary"), "Origin") << "caches must keep answers apart by Origin";
    // An origin differing only in scheme, port or a trailing slash is another origin.
    for (const std::string& origin :
         {std::string(kOther), std::string("https://dashboard.example.test:3000"),
          std::string(kOrigin) + "/", std::string("http://dashboard.example.test")}) {
        auto r = api.send(preflight("/v1/runs", origin));
        EXPECT_EQ(r.status, 403) << origin;
        EXPECT_FALSE(r.has_header("Access-Control-Allow-Origin")) << origin;
        EXPECT_FALSE(r.has_header("Access-Control-Allow-Methods")) << origin;
    }
    // An OPTIONS that is not a preflight is routed like any other method.
    HttpRequest options = make_request("OPTIONS", "/v1/runs");
    options.headers = {{"Origin", kOrigin}};
    auto r = api.send(options);
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("Allow"), "GET, POST");
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kOrigin);
}

TEST(Cors, AnEventStreamToAnAllowedOriginCarriesAllowOrigin) {
    auto server = cors_server();
    Api api(server->base_url());
    const auto id = str_at(api.create_ok(quick_run(unique_workflow_id("cors"))), "id");
    api.wait_terminal(id);
    HttpRequest req = make_request("GET", "/v1/runs/" + id + "/events");
    req.headers = {{"Authorization", std::string("Bearer ") + kTokenARw}, {"Origin", kOrigin}};
    auto r = api.send(req, false);  // the stream of an ended run closes after `end`
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.header("Content-Type").starts_with("text/event-stream"));
    EXPECT_EQ(r.header("Access-Control-Allow-Origin"), kOrigin);
    EXPECT_EQ(r.header("Vary"), "Origin");
    EXPECT_NE(r.body.find("event: end"), std::string::npos) << r.body;
}

TEST(Cors, WithoutTheFlagNothingChanges) {
    auto server = cors_server({});
    Api api(server->base_url());
    auto r = api.send(preflight("/v1/runs", kOrigin));
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("Allow"), "GET, POST");
    EXPECT_FALSE(r.has_header("Access-Control-Allow-Origin"));
    EXPECT_FALSE(r.has_header("Vary"));
    auto list = api.get("/v1/runs", kTokenARw, {{"Origin", kOrigin}});
    EXPECT_FALSE(list.has_header("Access-Control-Allow-Origin"));
    EXPECT_FALSE(list.has_header("Vary"));
}

TEST(Cors, OriginsComeFromRepeatedFlagsCommaListsTheConfigFileAndTheEnvironment) {
    TempDir dir;
    const auto config = dir.path() / "config.json";
    std::ofstream(config) << R"({"corsOrigins": ["https://from-config.example"]})";
    {
        auto server = cors_server({"--config", config.string()});
        Api api(server->base_url());
        EXPECT_EQ(api.send(preflight("/v1/runs", "https://from-config.example"), false).status,
                  204);
    }
    {
        // Flags replace the config file's list.
        auto server = cors_server({"--config", config.string(), "--cors-origin",
                                   "https://a.example,https://b.example:8443", "--cors-origin",
                                   "http://[::1]:3000"});
        Api api(server->base_url());
        for (const char* o : {"https://a.example", "https://b.example:8443", "http://[::1]:3000"}) {
            EXPECT_EQ(api.send(preflight("/v1/runs", o), false).status, 204) << o;
        }
        EXPECT_EQ(api.send(preflight("/v1/runs", "https://from-config.example")).status, 403);
    }
    {
        ::setenv("FORKRUN_CORS_ORIGIN", "https://from-env.example", 1);
        auto server = cors_server({});
        ::unsetenv("FORKRUN_CORS_ORIGIN");
        Api api(server->base_url());
        EXPECT_EQ(api.send(preflight("/v1/runs", "https://from-env.example"), false).status, 204);
    }
}

TEST(Cors, AnOriginThatIsNotOneIsRefusedAtStart) {
    for (const std::string bad :
         {"*", "app.example.com", "https://app.example.com/", "https://App.example.com",
          "https://app.example.com/path", "https://user@app.example.com", "https://app:port",
          "ftp://app.example.com", "https://a.example,"}) {
        auto r = run_forkrun({"serve", "--listen", "127.0.0.1:0", "--cors-origin", bad});
        EXPECT_EQ(r.status.code, 2) << bad << ": " << r.status.describe();
        EXPECT_NE(r.err.find("--cors-origin"), std::string::npos) << bad << ": " << r.err;
    }
    TempDir dir;
    const auto config = dir.path() / "config.json";
    std::ofstream(config) << R"({"corsOrigins": "https://app.example.com"})";
    auto r = run_forkrun({"serve", "--listen", "127.0.0.1:0", "--config", config.string()});
    EXPECT_EQ(r.status.code, 2) << r.status.describe();
    EXPECT_NE(r.err.find("corsOrigins"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace forkrun::http::test
