// Secrets never leave through the logs: a real server with a fork, gateway calls of every outcome,
// and its stderr read back for the rpcUrl secret (the access log names the fork instead).
#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

// One JSON-RPC call through `url`, as a wallet makes it; the HTTP status.
long rpc_status(const std::string& url,
                std::string_view method,
                std::string method_verb = "POST",
                std::string request_id = {}) {
    const auto path_at = url.find('/', url.find("//") + 2);
    HttpClient client(url.substr(0, path_at));
    json::object call{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", json::array{}}};
    HttpRequest req =
        make_request(std::move(method_verb), url.substr(path_at), json::serialize(call));
    req.headers.emplace_back("Content-Type", "application/json");
    if (!request_id.empty()) {
        req.headers.emplace_back("X-Request-Id", request_id);
    }
    return client.send(req).status;
}

// Waits until the server's stderr holds `needle` (log lines are written in batches).
bool wait_for_log(const ServerProcess& server, const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (server.stderr_text().find(needle) == std::string::npos) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        // Polling a file against a deadline; the log has no event to wait on.
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

TEST(HttpSecrets, AnRpcUrlSecretIsNeverLoggedAndTheLineNamesTheFork) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 0}}}}}}, dir);
    Api api(server->base_url());
    auto body = run_request(unique_workflow_id("secret"),
                            json::object{{"root", root({"w"})}, {"w", wait_node(30)}});
    body["isSimulation"] = true;
    body["simulationMode"] = "fork";
    body["chains"] = json::array{31337};
    const std::string id = str_at(api.create_ok(body), "id");
    const auto run = api.poll_run(
        id,
        [](const json::object& r) {
            const auto* f = r.if_contains("simulationForks");
            return f && f->is_array() && !f->as_array().empty();
        },
        30s);
    const auto& fork = run.at("simulationForks").as_array().at(0).as_object();
    const std::string url = str_at(fork, "rpcUrl");
    const std::string fork_id = str_at(fork, "forkId");
    const std::string secret = url.substr(url.rfind('/') + 1);
    ASSERT_GE(secret.size(), 16u) << url;

    // Every outcome of the gateway: served, wrong method, unknown secret, released fork.
    EXPECT_EQ(rpc_status(url, "eth_chainId", "POST", "served-call"), 200);
    EXPECT_EQ(rpc_status(url, "eth_chainId", "GET"), 405);
    const std::string base = server->base_url() + "/rpc/";
    EXPECT_EQ(rpc_status(base + secret + "x", "eth_chainId"), 404);
    EXPECT_EQ(rpc_status(url + "?q=" + secret, "eth_chainId"), 200);  // the query is not logged
    // Mistyped rpcUrls are 404s, and their secrets stay out of the log too.
    for (const std::string mistyped : {"/RPC/", "/Rpc/", "/%72pc/", "/rpc;/", "/rpc%2F"}) {
        EXPECT_EQ(rpc_status(server->base_url() + mistyped + secret, "eth_chainId"), 404)
            << mistyped;
    }
    ASSERT_EQ(api.cancel(id).status, 200);
    EXPECT_EQ(rpc_status(url, "eth_chainId", "POST", "after-release"), 410);
    ASSERT_TRUE(wait_for_log(*server, "after-release")) << server->stderr_text();

    const std::string log = server->stderr_text();
    EXPECT_EQ(log.find(secret), std::string::npos) << "the rpcUrl secret is in the log:\n" << log;
    EXPECT_EQ(server->stdout_text().find(secret), std::string::npos);
    // The access line of a gateway call names the fork instead.
    for (const std::string rid : {"served-call", "after-release"}) {
        const auto at = log.find("\"requestId\":\"" + rid + "\"");
        ASSERT_NE(at, std::string::npos) << log;
        const auto start = log.rfind('\n', at) + 1;
        const auto line = log.substr(start, log.find('\n', at) - start);
        EXPECT_NE(line.find("\"path\":\"/rpc/<redacted>\""), std::string::npos) << line;
        EXPECT_NE(line.find("\"forkId\":\"" + fork_id + "\""), std::string::npos) << line;
    }
}

}  // namespace
}  // namespace forkrun::http::test
