// keepForksOnFailure and POST /v1/runs/{id}/release against a real server and real anvil: a
// failed run's forks serve on, their calls charged to inspectionCu only, until a release or
// their deadline tears them down; they count as live forks; a successful run keeps nothing.
#include <algorithm>
#include <future>

#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

std::uint64_t inspection_cu(const json::object& run) {
    return value_at(run, "/executionState/inspectionCu").to_number<std::uint64_t>();
}

constexpr std::uint64_t kBlockNumberCu = 10;  // fixtures/cu/alchemy-2026-11.json

TEST(SimKept, AFailedRunsForkServesOnChargingInspectionCuOnlyUntilReleased) {
    ServerProcess server;
    Api api(server.base_url());
    const auto id = str_at(api.create_ok(failing_run("fork", 31337, 30)), "id");
    auto run = api.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "failure") << json::serialize(run);
    const auto fork = only_fork(run);
    ASSERT_EQ(str(fork.at("state")), "kept") << json::serialize(run);
    ASSERT_TRUE(is_timestamp(fork.at("keptUntil"))) << json::serialize(fork);
    const auto kept_for = timestamp_ms(fork.at("keptUntil")) - timestamp_ms(run.at("finishedAt"));
    EXPECT_GE(kept_for, 29000) << json::serialize(run);
    EXPECT_LE(kept_for, 31000) << json::serialize(run);
    EXPECT_EQ(value_at(run, "/keepForksOnFailure"), json::value(30));
    EXPECT_EQ(inspection_cu(run), 0u);
    const auto total = total_cu(run);
    EXPECT_EQ(total, parts_cu(run));
    const auto anvils = anvil_children(server.pid());
    ASSERT_EQ(anvils.size(), 1u);

    // The failed state can be inspected through the rpcUrl; none of it costs the run.
    const auto url = rpc_url_of(run, 31337);
    ASSERT_FALSE(url.empty()) << json::serialize(run);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(rpc_result(url, "eth_blockNumber"), "0x0");
    }
    run = data_of(api.run(id));
    EXPECT_EQ(total_cu(run), total);
    EXPECT_EQ(parts_cu(run), total);
    EXPECT_EQ(inspection_cu(run), 3 * kBlockNumberCu);
    EXPECT_EQ(str(only_fork(run).at("state")), "kept");

    EXPECT_EQ(release(api, id, kTokenBRw).status, 404) << "another organization's run";
    const auto released = release(api, id);
    ASSERT_EQ(released.status, 200) << released.body;
    const auto& after = data_of(released);
    EXPECT_EQ(str(only_fork(after).at("state")), "released") << released.body;
    EXPECT_TRUE(only_fork(after).at("keptUntil").is_null());
    EXPECT_EQ(total_cu(after), total);
    EXPECT_EQ(str_at(after, "status"), "failure");
    // Answered after the teardown: the anvil is gone and the rpcUrl refuses.
    for (auto pid : anvils) {
        EXPECT_TRUE(process_gone(pid)) << "kept fork " << pid << " still there after release";
    }
    EXPECT_EQ(rpc(url, "eth_blockNumber").status, 410);
    EXPECT_EQ(inspection_cu(data_of(api.run(id))), 3 * kBlockNumberCu);
    EXPECT_EQ(total_cu(data_of(api.run(id))), total);

    const auto again = release(api, id);
    EXPECT_EQ(again.status, 409) << again.body;
    EXPECT_TRUE(contains_ci(message_of(again), "keeps no forks")) << again.body;
}

TEST(SimKept, APooledKeptForkIsRevertedAndPooledAgainAtItsDeadline) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
    Api api(server->base_url());
    const auto id = str_at(api.create_ok(failing_run("pool", 31337, 1)), "id");
    auto run = api.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "failure") << json::serialize(run);
    const auto total = total_cu(run);
    const auto url = rpc_url_of(run, 31337);
    const auto kept_for =
        timestamp_ms(only_fork(run).at("keptUntil")) - timestamp_ms(run.at("finishedAt"));
    EXPECT_GE(kept_for, 900) << json::serialize(run);
    EXPECT_LE(kept_for, 1100) << json::serialize(run);

    // The deadline tears the fork down by itself: waited for on the run's state.
    run = api.poll_run(
        id, [](const json::object& r) { return str(only_fork(r).at("state")) != "kept"; }, 30s);
    EXPECT_EQ(str(only_fork(run).at("state")), "released") << json::serialize(run);
    EXPECT_EQ(rpc(url, "eth_blockNumber").status, 410);
    EXPECT_EQ(total_cu(run), total);
    EXPECT_EQ(inspection_cu(run), 10u) << "the teardown's evm_revert, not the run's";
    EXPECT_EQ(anvil_children(server->pid()).size(), 1u) << "the pool's fork, back in the pool";
    EXPECT_EQ(release(api, id).status, 409);

    // The reverted fork serves the next lease.
    const auto next =
        str_at(api.create_ok(sim_request(
                   "pool", json::array{31337},
                   json::object{{"root", root({"a"})}, {"a", assert_node("1", "equals", "1")}})),
               "id");
    EXPECT_EQ(str_at(api.wait_terminal(next, 60s), "status"), "success");
}

TEST(SimKept, KeptForksCountAsLiveForksButTheRunIsNoLongerActive) {
    ServerOptions options;
    options.extra_args = {"--max-live-forks-per-org", "1", "--max-active-runs-per-org", "1"};
    ServerProcess server(options);
    Api api(server.base_url());
    const auto id = str_at(api.create_ok(failing_run("fork", 31337, 600)), "id");
    ASSERT_EQ(str_at(api.wait_terminal(id, 60s), "status"), "failure");
    const auto refused = api.create(failing_run("fork", 31338, 0));
    EXPECT_EQ(refused.status, 429) << refused.body;
    EXPECT_TRUE(contains_ci(message_of(refused), "maxLiveForksPerOrg")) << refused.body;
    // Terminal, so not an active run: a run that needs no fork is taken.
    const auto live = str_at(api.create_ok(quick_run(unique_workflow_id("live"))), "id");
    EXPECT_EQ(str_at(api.wait_terminal(live, 20s), "status"), "success");

    ASSERT_EQ(release(api, id).status, 200);
    EXPECT_TRUE(anvil_children(server.pid()).empty());
    const auto next = str_at(api.create_ok(failing_run("fork", 31338, 0)), "id");
    EXPECT_EQ(str_at(api.wait_terminal(next, 60s), "status"), "failure");
    EXPECT_TRUE(anvil_count_becomes(server.pid(), 0, 20s)) << "a keep of 0 keeps nothing";
}

TEST(SimKept, ASuccessfulRunKeepsNothing) {
    ServerProcess server;
    Api api(server.base_url());
    auto body =
        sim_request("fork", json::array{31337},
                    json::object{{"root", root({"a"})}, {"a", assert_node("1", "equals", "1")}});
    body["keepForksOnFailure"] = 600;
    const auto id = str_at(api.create_ok(body), "id");
    const auto run = api.wait_terminal(id, 60s);
    EXPECT_EQ(str_at(run, "status"), "success");
    EXPECT_EQ(str(only_fork(run).at("state")), "released");
    EXPECT_TRUE(only_fork(run).at("keptUntil").is_null());
    EXPECT_TRUE(anvil_children(server.pid()).empty());
    const auto r = release(api, id);
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_TRUE(contains_ci(message_of(r), "run is success and keeps no forks")) << r.body;
}

TEST(SimKept, OfTwoConcurrentReleasesOneTearsDownAndTheOtherIs409) {
    ServerProcess server;
    Api api(server.base_url());
    const auto id = str_at(api.create_ok(failing_run("pool", 31337, 600)), "id");
    ASSERT_EQ(str_at(api.wait_terminal(id, 60s), "status"), "failure");
    auto first = std::async(std::launch::async, [&] { return release(api, id).status; });
    auto second = std::async(std::launch::async, [&] { return release(api, id).status; });
    std::vector<long> statuses{first.get(), second.get()};
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<long>{200, 409}));
    EXPECT_EQ(str(only_fork(data_of(api.run(id))).at("state")), "released");
}

TEST(SimKept, ShutdownReleasesKeptForks) {
    ServerProcess server;
    Api api(server.base_url());
    const auto id = str_at(api.create_ok(failing_run("fork", 31337, 600)), "id");
    ASSERT_EQ(str_at(api.wait_terminal(id, 60s), "status"), "failure");
    const auto anvils = anvil_children(server.pid());
    ASSERT_EQ(anvils.size(), 1u);
    const auto status = server.stop(SIGTERM, 10s);
    EXPECT_TRUE(status.clean()) << status.describe();
    for (auto pid : anvils) {
        EXPECT_TRUE(process_gone(pid)) << "kept fork " << pid << " outlived the server";
    }
}

}  // namespace
}  // namespace forkrun::http::test
