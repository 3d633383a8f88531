// spawnAhead against real anvil: a fork-mode run is handed a fork started before it was created,
// its replacement starts, an untaken fork is replaced at its max age, pinned runs and spawnAhead
// 0 start their own, two runs never share one, and the shutdown leaves no anvil.
#include <algorithm>

#include "forks/test_anvil.hpp"
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

using forks::test::TestAnvil;

// The value of the sample `series` (labels as written) in /metrics, or -1 when absent.
double metric(const Api& api, const std::string& series) {
    auto r = api.send(make_request("GET", "/metrics"), false);
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string text = "\n" + r.body;
    const auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

double ready(const Api& api) {
    return metric(api, "forkrun_spawn_ahead_ready");
}

double ahead(const Api& api, const std::string& event) {
    return metric(api, "forkrun_spawn_ahead_total{event=\"" + event + "\"}");
}

// Polls `holds` until it is true; false at the deadline.
bool becomes(const std::function<bool()>& holds, std::chrono::milliseconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!holds()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

json::object waiting_run(std::uint64_t chain) {
    return sim_request("fork", json::array{chain},
                       json::object{{"root", root({"w"})}, {"w", wait_node(30)}});
}

json::object chain_config(std::uint64_t chain, json::object settings) {
    settings["poolSize"] = 0;
    return json::object{{"chains", json::object{{std::to_string(chain), std::move(settings)}}}};
}

TEST(SimAhead, ByDefaultAForkRunTakesTheForkStartedBeforeItAndAReplacementStarts) {
    TempDir dir;
    ServerOptions opts;
    opts.spawn_ahead.reset();  // the server's default: one per configured chain
    auto server = start_server_with_config(chain_config(31337, {}), dir, opts);
    Api api(server->base_url());
    ASSERT_TRUE(becomes([&] { return ready(api) == 1; }, 30s)) << "no fork was started ahead";
    const auto started = anvil_children(server->pid());
    ASSERT_EQ(started.size(), 1u);

    const std::string id = str_at(api.create_ok(waiting_run(31337)), "id");
    auto run = wait_forks_ready(api, id, 1);
    const auto url = rpc_url_of(run, 31337);
    EXPECT_EQ(rpc_result(url, "eth_chainId"), "0x7a69");
    EXPECT_EQ(ahead(api, "taken"), 1);
    EXPECT_EQ(ahead(api, "missed"), 0);
    // The replacement comes up beside the run's fork.
    EXPECT_TRUE(becomes([&] { return ready(api) == 1; }, 30s)) << "no replacement";
    EXPECT_EQ(anvil_children(server->pid()).size(), 2u);

    // The run's fork is the anvil that was up before the create: the cancel ends it.
    auto c = api.cancel(id);
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_TRUE(process_gone(started.front())) << "the run did not get the fork started ahead";
    const auto left = anvil_children(server->pid());
    ASSERT_EQ(left.size(), 1u);
    EXPECT_NE(left.front(), started.front());
    EXPECT_EQ(total_cu(data_of(c)), parts_cu(data_of(c)));
}

TEST(SimAhead, TwoRunsGetTwoForksAndNeitherSeesTheOthersState) {
    TempDir dir;
    auto server = start_server_with_config(chain_config(31337, {{"spawnAhead", 2}}), dir);
    Api api(server->base_url());
    ASSERT_TRUE(becomes([&] { return ready(api) == 2; }, 30s));
    const auto started = anvil_children(server->pid());
    ASSERT_EQ(started.size(), 2u);

    const std::string a = str_at(api.create_ok(waiting_run(31337)), "id");
    const std::string b = str_at(api.create_ok(waiting_run(31337)), "id");
    const auto url_a = rpc_url_of(wait_forks_ready(api, a, 1), 31337);
    const auto url_b = rpc_url_of(wait_forks_ready(api, b, 1), 31337);
    EXPECT_EQ(ahead(api, "taken"), 2);
    rpc_result(url_a, "anvil_setBalance", json::array{kAddrX, "0x77"});
    rpc(url_a, "anvil_mine", json::array{"0x3"});
    EXPECT_EQ(rpc_result(url_a, "eth_getBalance", json::array{kAddrX, "latest"}), "0x77");
    EXPECT_EQ(rpc_result(url_b, "eth_getBalance", json::array{kAddrX, "latest"}), "0x0");
    EXPECT_EQ(rpc_result(url_b, "eth_blockNumber"), "0x0");

    // Each cancel ends one of the two forks started ahead; the replacements stay.
    ASSERT_EQ(api.cancel(a).status, 200);
    ASSERT_EQ(api.cancel(b).status, 200);
    for (auto pid : started) {
        EXPECT_TRUE(process_gone(pid)) << "fork " << pid << " outlived its run";
    }
    EXPECT_TRUE(becomes([&] { return ready(api) == 2; }, 30s));
    EXPECT_EQ(anvil_children(server->pid()).size(), 2u);
}

TEST(SimAhead, AForkNoRunTookIsReplacedAtItsMaxAge) {
    TempDir dir;
    ServerOptions opts;
    opts.extra_args = {"--spawn-ahead-max-age-ms", "3000"};
    auto server = start_server_with_config(chain_config(31337, {{"spawnAhead", 1}}), dir, opts);
    Api api(server->base_url());
    ASSERT_TRUE(becomes([&] { return ready(api) == 1; }, 30s));
    const auto first = anvil_children(server->pid());
    ASSERT_EQ(first.size(), 1u);
    ASSERT_TRUE(becomes([&] { return process_gone(first.front()); }, 20s))
        << "the fork outlived its max age";
    EXPECT_GE(ahead(api, "aged"), 1);
    ASSERT_TRUE(becomes([&] { return ready(api) == 1; }, 30s)) << "no replacement";
    const auto second = anvil_children(server->pid());
    ASSERT_EQ(second.size(), 1u);
    EXPECT_NE(second.front(), first.front());
}

TEST(SimAhead, PinnedRunsAndSpawnAheadZeroStartForksOfTheirOwn) {
    TestAnvil upstream(1);
    rpc(upstream.url(), "anvil_mine", json::array{"0x2"});
    TempDir dir;
    auto config = json::object{
        {"chains", json::object{{"1", json::object{{"upstreamRpcUrl", upstream.url()},
                                                   {"poolSize", 0},
                                                   {"spawnAhead", 1}}},
                                {"8453", json::object{{"poolSize", 0}, {"spawnAhead", 0}}}}}};
    auto server = start_server_with_config(config, dir);
    Api api(server->base_url());
    ASSERT_TRUE(becomes([&] { return ready(api) == 1; }, 30s));
    const auto waiting = anvil_children(server->pid());
    ASSERT_EQ(waiting.size(), 1u) << "chain 8453 has spawnAhead 0";

    auto pinned = waiting_run(1);
    pinned["forkBlockNumbers"] = json::object{{"1", 1}};
    const std::string p = str_at(api.create_ok(pinned), "id");
    const auto url = rpc_url_of(wait_forks_ready(api, p, 1), 1);
    EXPECT_EQ(rpc_result(url, "eth_blockNumber"), "0x1");
    const std::string z = str_at(api.create_ok(waiting_run(8453)), "id");
    wait_forks_ready(api, z, 1);
    EXPECT_EQ(ahead(api, "taken"), 0);
    EXPECT_EQ(ahead(api, "missed"), 0) << "the pinned run did not ask";
    EXPECT_EQ(anvil_children(server->pid()).size(), 3u);
    ASSERT_EQ(api.cancel(p).status, 200);
    ASSERT_EQ(api.cancel(z).status, 200);
    EXPECT_EQ(anvil_children(server->pid()), waiting) << "only the fork started ahead is left";
}

TEST(SimAhead, TheShutdownStopsTheForksStartedAheadAndTheRunsForks) {
    TempDir dir;
    auto server = start_server_with_config(chain_config(31337, {{"spawnAhead", 3}}), dir);
    Api api(server->base_url());
    ASSERT_TRUE(becomes([&] { return ready(api) == 3; }, 60s));
    const std::string id = str_at(api.create_ok(waiting_run(31337)), "id");
    wait_forks_ready(api, id, 1);
    // One run's fork, two waiting, and the replacement, started or starting.
    ASSERT_TRUE(becomes([&] { return anvil_children(server->pid()).size() == 4; }, 30s));
    const auto before = anvil_children(server->pid());
    auto status = server->stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe();
    for (auto pid : before) {
        EXPECT_TRUE(process_gone(pid)) << "anvil " << pid << " survived the server";
    }
}

}  // namespace
}  // namespace forkrun::http::test
