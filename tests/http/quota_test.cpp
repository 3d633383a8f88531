// Limits and quotas as a client meets them (API.md "Trust boundary"): 429 with Retry-After
// for active runs and live forks, 400 for too many chains, `tooLarge` node failures for sizes,
// bounded memory under template amplification, and idle pools of unconfigured chains reaped.
#include <dirent.h>
#include <signal.h>

#include <fstream>

#include "forks/test_anvil.hpp"
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

using Clock = std::chrono::steady_clock;
using forks::test::TestAnvil;

// The server's resident set in KiB, from /proc/<pid>/status.
long vm_rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.starts_with("VmRSS:")) {
            return std::stol(line.substr(6));
        }
    }
    return -1;
}

json::object holding_nodes() {
    return json::object{{"root", root({"w"})}, {"w", wait_node(60)}};
}

// Long-polls until the run has been running (its forks are up); the run then.
json::object wait_running(const Api& api,
                          const std::string& id,
                          const std::string& token = kTokenARw) {
    const auto r = api.get("/v1/runs/" + id + "?waitUntil=running&timeoutMs=60000", token);
    EXPECT_EQ(r.status, 200) << r.body;
    const auto run = data_of(r);
    EXPECT_FALSE(is_terminal(str_at(run, "status"))) << r.body;
    EXPECT_TRUE(value_at(run, "/executionState/error").is_null()) << r.body;
    return run;
}

// Checks a 429 from a quota: envelope, Retry-After in whole seconds, message naming `limit`.
void expect_quota_refusal(const HttpResponse& r, const std::string& limit) {
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_TRUE(is_envelope(r));
    const std::string retry = r.header("Retry-After");
    EXPECT_FALSE(retry.empty()) << "no Retry-After on " << r.body;
    EXPECT_TRUE(!retry.empty() && std::all_of(retry.begin(), retry.end(), ::isdigit) &&
                std::stol(retry) >= 1)
        << "Retry-After: " << retry;
    EXPECT_TRUE(contains_ci(message_of(r), limit)) << message_of(r);
}

std::unique_ptr<ServerProcess> serve(std::vector<std::string> args) {
    ServerOptions opts;
    opts.extra_args = std::move(args);
    opts.extra_args.push_back("--no-access-log");
    return std::make_unique<ServerProcess>(opts);
}

std::string error_code_of(const json::object& run, std::string_view node_id) {
    const auto n = node_state(run, node_id);
    const auto* e = n.if_contains("error");
    return e && e->is_object() ? str_at(e->as_object(), "code") : std::string();
}

std::string error_message_of(const json::object& run, std::string_view node_id) {
    const auto n = node_state(run, node_id);
    const auto* e = n.if_contains("error");
    return e && e->is_object() ? str_at(e->as_object(), "message") : std::string();
}

// ---------------------------------------------------------------------------------------------
// Sizes.

TEST(QuotaSizes, TemplateAmplificationFailsTooLargeWithoutGrowingTheServer) {
    auto server = serve({});
    Api api(server->base_url());
    // A 100 KB prop referenced 3,000 times in one assert string: 300 MB if it were built.
    std::string refs;
    for (int i = 0; i < 3000; ++i) {
        refs += "{{props.big}} ";
    }
    const auto body = run_request(
        unique_workflow_id("amp"),
        json::object{{"root", root({"a"})}, {"a", assert_node(json::value(refs), "equals", "x")}},
        json::array{json::object{{"key", "big"}, {"type", "string"}, {"required", true}}},
        json::object{{"big", std::string(100 * 1024, 'x')}});
    ASSERT_GT(json::serialize(body).size(), 140u * 1024);
    // Warm the server's allocator with one small run, so the baseline is not a cold heap.
    api.wait_terminal(str_at(api.create_ok(quick_run(unique_workflow_id("warm"))), "id"));
    const long before = vm_rss_kib(server->pid());
    ASSERT_GT(before, 0);

    for (int round = 0; round < 3; ++round) {
        const auto started = Clock::now();
        const auto created = api.create(body);
        const auto took = Clock::now() - started;
        ASSERT_EQ(created.status, 201) << created.body;
        EXPECT_LT(took, 2s) << "the create held its HTTP thread";
        const auto run = api.wait_terminal(str_at(data_of(created), "id"), 10s);
        EXPECT_EQ(str_at(run, "status"), "failure");
        EXPECT_EQ(node_status(run, "a"), "failure");
        EXPECT_EQ(error_code_of(run, "a"), "tooLarge");
        EXPECT_TRUE(contains_ci(error_message_of(run, "a"), "maxTemplateStringBytes"))
            << error_message_of(run, "a");
        EXPECT_EQ(str(value_at(run, "/executionState/error/code")), "tooLarge");
        // The HTTP threads answer at once.
        const auto ping = Clock::now();
        EXPECT_EQ(api.get("/healthz", std::nullopt).status, 200);
        EXPECT_LT(Clock::now() - ping, 1s);
    }
    const long after = vm_rss_kib(server->pid());
    // Built, one render would be 300 MB. The server keeps up to 32 MB of freed heap per arena
    // (M_TRIM_THRESHOLD), and which arena a run lands in varies, so tens of MB of growth is the
    // allocator, not the template: the bound sits far below one built render and above that slack.
    EXPECT_LT(after - before, 96 * 1024)
        << "RSS grew from " << before << " KiB to " << after << " KiB over three 145 KB creates";
}

TEST(QuotaSizes, ExactTemplatesCopiedPastTheNodeLimitFailTooLarge) {
    auto server = serve({"--max-node-output-bytes", "65536"});
    Api api(server->base_url());
    // Every element is exactly one template: copies of a 10 KB value, 200 of them (2 MB).
    json::array copies;
    for (int i = 0; i < 200; ++i) {
        copies.emplace_back("{{props.big}}");
    }
    const auto body = run_request(
        unique_workflow_id("copies"),
        json::object{{"root", root({"a"})}, {"a", assert_node(copies, "equals", "x")}},
        json::array{json::object{{"key", "big"}, {"type", "string"}, {"required", true}}},
        json::object{{"big", std::string(10 * 1024, 'y')}});
    const auto run = api.wait_terminal(str_at(api.create_ok(body), "id"));
    EXPECT_EQ(str_at(run, "status"), "failure");
    EXPECT_EQ(error_code_of(run, "a"), "tooLarge");
    EXPECT_TRUE(contains_ci(error_message_of(run, "a"), "maxNodeOutputBytes"))
        << error_message_of(run, "a");
    EXPECT_TRUE(contains_ci(error_message_of(run, "a"), "64 KiB")) << error_message_of(run, "a");
}

TEST(QuotaSizes, RunStoredJsonLimitFailsTheNodeThatWouldPassIt) {
    auto server = serve({"--max-run-json-bytes", "131072"});
    Api api(server->base_url());
    // Each assert keeps a 20 KB output; the run may keep 128 KiB in all.
    json::object nodes{{"root", root({"a1"})}};
    for (int i = 1; i <= 8; ++i) {
        const std::string id = "a" + std::to_string(i);
        std::vector<std::string> next;
        if (i < 8) {
            next.push_back("a" + std::to_string(i + 1));
        }
        nodes[id] = assert_node("{{props.big}}", "notEquals", "x", next);
    }
    const auto body = run_request(
        unique_workflow_id("runjson"), nodes,
        json::array{json::object{{"key", "big"}, {"type", "string"}, {"required", true}}},
        json::object{{"big", std::string(20 * 1024, 'z')}});
    const auto run = api.wait_terminal(str_at(api.create_ok(body), "id"));
    EXPECT_EQ(str_at(run, "status"), "failure");
    EXPECT_EQ(node_status(run, "a1"), "success");
    EXPECT_EQ(str(value_at(run, "/executionState/error/code")), "tooLarge");
    const std::string failed = str(value_at(run, "/executionState/error/nodeId"));
    EXPECT_TRUE(contains_ci(error_message_of(run, failed), "maxRunJsonBytes"))
        << error_message_of(run, failed);
    EXPECT_EQ(node_status(run, "a8"), "skipped");
    // What a GET answers stays within the limit.
    EXPECT_LT(api.run(str_at(run, "id")).body.size(), 160u * 1024);
}

TEST(QuotaSizes, NodeReplyOverTheOutputLimitFailsTooLarge) {
    TestAnvil upstream(1);
    // Code of 1,000 and 20,000 bytes on the upstream; forks read it through eth_getCode.
    const std::string small_code = "0x" + std::string(2000, '6');
    const std::string big_code = "0x" + std::string(40000, '6');
    {
        HttpClient client(upstream.url());
        for (const auto& [addr, code] :
             {std::pair{"0x00000000000000000000000000000000000000aa", small_code},
              std::pair{"0x00000000000000000000000000000000000000bb", big_code}}) {
            HttpRequest req =
                make_request("POST", "/",
                             json::serialize(json::object{{"jsonrpc", "2.0"},
                                                          {"id", 1},
                                                          {"method", "anvil_setCode"},
                                                          {"params", json::array{addr, code}}}));
            req.headers.emplace_back("Content-Type", "application/json");
            ASSERT_EQ(client.send(req).status, 200);
        }
    }
    TempDir dir;
    const auto config = dir.path() / "config.json";
    std::ofstream(config) << json::serialize(json::object{
        {"chains",
         json::object{{"1", json::object{{"upstreamRpcUrl", upstream.url()}, {"poolSize", 0}}}}}});
    auto server = serve({"--config", config.string(), "--max-node-output-bytes", "1024"});
    Api api(server->base_url());
    for (const char* addr : {"0x00000000000000000000000000000000000000aa",
                             "0x00000000000000000000000000000000000000bb"}) {
        auto nodes =
            json::object{{"root", root({"code"})},
                         {"code", node("rpc", {},
                                       json::object{{"chainId", 1},
                                                    {"method", "eth_getCode"},
                                                    {"params", json::array{addr, "latest"}}})}};
        const auto run =
            api.wait_terminal(str_at(api.create_ok(sim_request("fork", {1}, nodes)), "id"), 60s);
        EXPECT_EQ(str_at(run, "status"), "failure") << addr;
        EXPECT_EQ(error_code_of(run, "code"), "tooLarge") << error_message_of(run, "code");
        EXPECT_TRUE(contains_ci(error_message_of(run, "code"), "maxNodeOutputBytes"))
            << error_message_of(run, "code");
        EXPECT_TRUE(contains_ci(error_message_of(run, "code"), "1 KiB"))
            << error_message_of(run, "code");
        EXPECT_TRUE(value_at(run, "/executionState/nodes/code/output").is_null());
    }
    EXPECT_TRUE(anvil_count_becomes(server->pid(), 0, 20s));
}

// ---------------------------------------------------------------------------------------------
// Chains per run.

TEST(QuotaChains, SeventeenChainsAre400AtChainsNamingTheLimit) {
    auto server = serve({});
    Api api(server->base_url());
    json::array sixteen;
    for (int i = 1; i <= 16; ++i) {
        sixteen.emplace_back(i);
    }
    auto body = quick_run(unique_workflow_id("chains"));
    body["chains"] = sixteen;
    EXPECT_EQ(api.create(body).status, 201);

    auto seventeen = sixteen;
    seventeen.emplace_back(17);
    body["chains"] = seventeen;
    const auto r = api.create(body);
    EXPECT_EQ(r.status, 400) << r.body;
    ASSERT_TRUE(are_validation_errors(r));
    const auto errors = errors_of(r);
    ASSERT_EQ(errors.size(), 1u) << r.body;
    EXPECT_EQ(str_at(errors[0].as_object(), "path"), "/chains");
    EXPECT_TRUE(contains_ci(str_at(errors[0].as_object(), "message"), "maxChainsPerRun")) << r.body;
    EXPECT_TRUE(contains_ci(str_at(errors[0].as_object(), "message"), "16")) << r.body;

    // 90,000 chains in a 600 KB body: one problem, answered at once.
    json::array many;
    for (int i = 1; i <= 90000; ++i) {
        many.emplace_back(i);
    }
    auto sim = sim_request("pool", many, holding_nodes());
    const auto started = Clock::now();
    const auto huge = api.create(sim);
    EXPECT_LT(Clock::now() - started, 2s);
    EXPECT_EQ(huge.status, 400);
    EXPECT_EQ(errors_of(huge).size(), 1u) << huge.body.substr(0, 2000);
    EXPECT_LT(huge.body.size(), 4096u);
    EXPECT_TRUE(anvil_children(server->pid()).empty());
}

// ---------------------------------------------------------------------------------------------
// Active runs.

TEST(QuotaRuns, ActiveRunsPerOrganizationAndServerAre429WithRetryAfter) {
    auto server = serve({"--max-active-runs-per-org", "3", "--max-active-runs", "5"});
    Api api(server->base_url());
    std::vector<std::string> mine;
    for (int i = 0; i < 3; ++i) {
        mine.push_back(str_at(api.create_ok(wait_run(unique_workflow_id("q"), 60)), "id"));
    }
    const auto refused = api.create(wait_run(unique_workflow_id("q"), 60));
    expect_quota_refusal(refused, "maxActiveRunsPerOrg");
    EXPECT_TRUE(contains_ci(message_of(refused), "org_a")) << message_of(refused);
    EXPECT_TRUE(contains_ci(message_of(refused), "3 active runs")) << message_of(refused);
    // The refused create made no run.
    const auto listed = api.get("/v1/runs?status=waiting,running&limit=200");
    EXPECT_EQ(value_at(data_of(listed), "/runs").as_array().size(), 3u);

    // Another organization still creates, up to the server's limit.
    std::vector<std::string> theirs;
    for (int i = 0; i < 2; ++i) {
        theirs.push_back(
            str_at(api.create_ok(wait_run(unique_workflow_id("q"), 60), kTokenBRw), "id"));
    }
    expect_quota_refusal(api.create(wait_run(unique_workflow_id("q"), 60), kTokenBRw),
                         "maxActiveRuns");

    // A run that ends gives its place back.
    ASSERT_EQ(api.cancel(mine[0]).status, 200);
    const auto again = api.create_ok(wait_run(unique_workflow_id("q"), 60));
    EXPECT_FALSE(str_at(again, "id").empty());
    for (const auto& id : {mine[1], mine[2], str_at(again, "id")}) {
        EXPECT_EQ(api.cancel(id).status, 200);
    }
    for (const auto& id : theirs) {
        EXPECT_EQ(api.cancel(id, kTokenBRw).status, 200);
    }
    // Runs that finish by themselves give their places back too.
    for (int i = 0; i < 10; ++i) {
        const auto id = str_at(api.create_ok(quick_run(unique_workflow_id("q"))), "id");
        EXPECT_EQ(str_at(api.wait_terminal(id), "status"), "success");
    }
}

// ---------------------------------------------------------------------------------------------
// Live forks (real anvil).

TEST(QuotaForks, LiveForksPerOrganizationAre429UntilCancelledForksAreGone) {
    auto server = serve({"--max-live-forks-per-org", "2"});
    Api api(server->base_url());
    const auto a = str_at(api.create_ok(sim_request("fork", {31337}, holding_nodes())), "id");
    const auto b = str_at(api.create_ok(sim_request("fork", {31338}, holding_nodes())), "id");
    // Counted at create: the third is refused before the first two have their forks.
    const auto third = sim_request("fork", {31339}, holding_nodes());
    const auto refused = api.create(third);
    expect_quota_refusal(refused, "maxLiveForksPerOrg");
    EXPECT_TRUE(contains_ci(message_of(refused), "org_a")) << message_of(refused);
    // A run that can never fit is a 400 at /chains.
    const auto never = api.create(sim_request("fork", {1, 2, 3}, holding_nodes()));
    EXPECT_EQ(never.status, 400) << never.body;
    EXPECT_TRUE(has_error_at(errors_of(never), "/chains")) << never.body;
    EXPECT_TRUE(contains_ci(never.body, "maxLiveForksPerOrg")) << never.body;
    // Another organization has its own quota.
    const auto other =
        str_at(api.create_ok(sim_request("fork", {31340}, holding_nodes()), kTokenBRw), "id");

    wait_running(api, a);
    wait_running(api, b);
    wait_running(api, other, kTokenBRw);
    ASSERT_TRUE(anvil_count_becomes(server->pid(), 3, 30s));
    const auto before = anvil_children(server->pid());
    ASSERT_EQ(api.cancel(other, kTokenBRw).status, 200);
    ASSERT_TRUE(anvil_count_becomes(server->pid(), 2, 10s));
    const auto forks = anvil_children(server->pid());
    ASSERT_EQ(api.cancel(a).status, 200);
    ASSERT_EQ(api.cancel(b).status, 200);
    // Answered after teardown: every anvil of the cancelled runs is gone.
    for (auto pid : forks) {
        EXPECT_TRUE(process_gone(pid)) << "fork " << pid << " still there after the cancel";
    }
    EXPECT_TRUE(anvil_children(server->pid()).empty());
    EXPECT_EQ(before.size(), 3u);

    const auto c = str_at(api.create_ok(third), "id");
    ASSERT_FALSE(c.empty());
    wait_running(api, c);
    ASSERT_EQ(api.cancel(c).status, 200);
    EXPECT_TRUE(anvil_children(server->pid()).empty());
}

// ---------------------------------------------------------------------------------------------
// Unconfigured chains (real anvil).

TEST(QuotaUnconfigured, PoolsOfUnconfiguredChainsAreBoundedAndReapedWhenIdle) {
    auto server = serve({"--max-unconfigured-chains", "1", "--unconfigured-pool-idle-ms", "1500"});
    Api api(server->base_url());
    const auto first = str_at(api.create_ok(sim_request("pool", {4242}, holding_nodes())), "id");
    wait_running(api, first);
    ASSERT_TRUE(anvil_count_becomes(server->pid(), 2, 60s)) << "the pool of 2 did not fill";

    // The allowance is taken: a pool of another unconfigured chain waits for the reaper.
    const auto refused = api.create(sim_request("pool", {4243}, holding_nodes()));
    expect_quota_refusal(refused, "maxUnconfiguredChains");
    EXPECT_EQ(refused.header("Retry-After"), "2");
    EXPECT_TRUE(contains_ci(message_of(refused), "4243")) << message_of(refused);
    // More unconfigured chains than the allowance in one run can never fit: 400.
    const auto never = api.create(sim_request("pool", {4243, 4244}, holding_nodes()));
    EXPECT_EQ(never.status, 400) << never.body;
    EXPECT_TRUE(has_error_at(errors_of(never), "/chains")) << never.body;
    // The same chain shares the pool.
    const auto second = str_at(api.create_ok(sim_request("pool", {4242}, holding_nodes())), "id");
    wait_running(api, second);

    ASSERT_EQ(api.cancel(first).status, 200);
    ASSERT_EQ(api.cancel(second).status, 200);
    // No run holds the pool any more: it is stopped once idle.
    EXPECT_TRUE(anvil_count_becomes(server->pid(), 0, 30s))
        << anvil_children(server->pid()).size() << " anvils left";

    const auto third = str_at(api.create_ok(sim_request("pool", {4243}, holding_nodes())), "id");
    const auto run = wait_running(api, third);
    EXPECT_EQ(value_at(run, "/simulationForks").as_array().size(), 1u);
    ASSERT_EQ(api.cancel(third).status, 200);
}

}  // namespace
}  // namespace forkrun::http::test
