// forkBlockNumbers against real anvil: a run pinned to an upstream's earlier block reads the
// state of that block, in fork mode, from a pinned pool, and from a fresh fork when no pool is
// warmed at that block; the request's problems are all listed.
#include "forks/test_anvil.hpp"
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

using forks::test::TestAnvil;

constexpr const char* kOldBalance = "0x1234";
constexpr const char* kNewBalance = "0x5678";

// An upstream of chain 1 where kAddrX holds kOldBalance up to block 2 and kNewBalance from
// block 3 on; the block to pin is 2. (anvil applies a cheat code to its head block's state, so
// the balance changes once block 3 is the head.)
struct Upstream {
    TestAnvil anvil{1};
    static constexpr std::uint64_t kPinned = 2;

    Upstream() {
        rpc_result(anvil.url(), "anvil_setBalance", json::array{kAddrX, kOldBalance});
        rpc(anvil.url(), "anvil_mine", json::array{"0x3"});
        rpc_result(anvil.url(), "anvil_setBalance", json::array{kAddrX, kNewBalance});
        rpc(anvil.url(), "anvil_mine", json::array{"0x1"});
        EXPECT_EQ(rpc_result(anvil.url(), "eth_blockNumber"), "0x4");
        EXPECT_EQ(rpc_result(anvil.url(), "eth_getBalance", json::array{kAddrX, "0x2"}),
                  kOldBalance);
        EXPECT_EQ(rpc_result(anvil.url(), "eth_getBalance", json::array{kAddrX, "latest"}),
                  kNewBalance);
    }
};

// root -> bal (eth_getBalance of kAddrX on chain 1) -> check (equals `expected`).
json::object balance_run(std::string_view mode, const char* expected) {
    return sim_request(
        mode, json::array{1},
        json::object{{"root", root({"bal"})},
                     {"bal", node("rpc", {"check"},
                                  json::object{{"chainId", 1},
                                               {"method", "eth_getBalance"},
                                               {"params", json::array{kAddrX, "latest"}}})},
                     {"check", assert_node("{{nodes.bal.output}}", "equals", expected)}});
}

json::object pinned(json::object body, std::uint64_t block) {
    body["forkBlockNumbers"] = json::object{{"1", block}};
    return body;
}

// The upstream, and a server forking it as chain 1 with `chain1`'s settings.
struct PinnedServer {
    explicit PinnedServer(json::object chain1) {
        chain1["upstreamRpcUrl"] = up.anvil.url();
        server =
            start_server_with_config(json::object{{"chains", json::object{{"1", chain1}}}}, dir);
    }

    Upstream up;
    TempDir dir;
    std::unique_ptr<ServerProcess> server;
};

TEST(SimPinned, ForkModeReadsThePinnedBlocksStateAndAnUnpinnedRunTheHeads) {
    PinnedServer pinned_server(json::object{{"poolSize", 0}});
    const auto& server = pinned_server.server;
    Api api(server->base_url());

    auto run = api.wait_terminal(
        str_at(api.create_ok(pinned(balance_run("fork", kOldBalance), Upstream::kPinned)), "id"),
        60s);
    EXPECT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    EXPECT_EQ(value_at(run, "/forkBlockNumbers/1"), json::value(Upstream::kPinned));
    EXPECT_EQ(only_fork(run).at("forkBlockNumber"), json::value(Upstream::kPinned));
    EXPECT_EQ(str(only_fork(run).at("state")), "released");

    run = api.wait_terminal(str_at(api.create_ok(balance_run("fork", kNewBalance)), "id"), 60s);
    EXPECT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    EXPECT_TRUE(only_fork(run).at("forkBlockNumber").is_null());
    EXPECT_TRUE(value_at(run, "/forkBlockNumbers").as_object().empty());
    EXPECT_TRUE(anvil_children(server->pid()).empty());
}

TEST(SimPinned, PoolModeWithoutAPinnedPoolGetsAFreshForkThatIsNotPooled) {
    PinnedServer pinned_server(json::object{{"poolSize", 1}});
    const auto& server = pinned_server.server;
    Api api(server->base_url());
    // The chain's one warm fork, at the head.
    api.poll_run(
        str_at(api.create_ok(balance_run("pool", kNewBalance)), "id"),
        [](const json::object& r) { return str_at(r, "status") == "success"; }, 60s);
    const auto warm = anvil_children(server->pid());
    ASSERT_EQ(warm.size(), 1u);

    auto nodes = json::object{{"root", root({"w"})}, {"w", wait_node(30)}};
    auto waiting = api.create_ok(pinned(sim_request("pool", json::array{1}, nodes), 2));
    const std::string id = str_at(waiting, "id");
    auto run = wait_forks_ready(api, id, 1);
    const auto url = rpc_url_of(run, 1);
    EXPECT_EQ(rpc_result(url, "eth_getBalance", json::array{kAddrX, "latest"}), kOldBalance);
    EXPECT_EQ(rpc_result(url, "eth_blockNumber"), "0x2");
    EXPECT_EQ(anvil_children(server->pid()).size(), 2u) << "a fork of the lease's own";
    auto c = api.cancel(id);
    ASSERT_EQ(c.status, 200) << c.body;
    const auto t = value_at(data_of(c), "/executionState/cancellation/forks/0");
    EXPECT_EQ(str(t.at("method")), "SIGTERM") << json::serialize(t);
    EXPECT_TRUE(t.at("ok").as_bool()) << json::serialize(t);
    EXPECT_EQ(anvil_children(server->pid()), warm) << "only the warm fork is left";

    run = api.wait_terminal(
        str_at(api.create_ok(pinned(balance_run("pool", kOldBalance), 2)), "id"), 60s);
    EXPECT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    EXPECT_EQ(anvil_children(server->pid()), warm);
}

TEST(SimPinned, APinnedPoolServesThatBlockAndItsRevertKeepsTheBlockAsBaseline) {
    PinnedServer pinned_server(
        json::object{{"poolSize", 0}, {"pinnedPools", json::object{{"2", 1}}}});
    const auto& server = pinned_server.server;
    Api api(server->base_url());
    auto nodes = json::object{{"root", root({"w"})}, {"w", wait_node(30)}};
    std::vector<pid_t> pool;
    for (int lease = 0; lease < 2; ++lease) {
        const std::string id =
            str_at(api.create_ok(pinned(sim_request("pool", json::array{1}, nodes), 2)), "id");
        auto run = wait_forks_ready(api, id, 1);
        if (lease == 0) {
            pool = anvil_children(server->pid());
            ASSERT_EQ(pool.size(), 1u);
        }
        const auto url = rpc_url_of(run, 1);
        // The second lease sees the pinned block's state again, not what the first one did.
        EXPECT_EQ(rpc_result(url, "eth_getBalance", json::array{kAddrX, "latest"}), kOldBalance);
        EXPECT_EQ(rpc_result(url, "eth_blockNumber"), "0x2");
        rpc_result(url, "anvil_setBalance", json::array{kAddrX, "0x1"});
        rpc(url, "anvil_mine", json::array{"0x3"});
        auto c = api.cancel(id);
        ASSERT_EQ(c.status, 200) << c.body;
        const auto t = value_at(data_of(c), "/executionState/cancellation/forks/0");
        EXPECT_EQ(str(t.at("method")), "evm_revert") << json::serialize(t);
        EXPECT_TRUE(t.at("ok").as_bool()) << json::serialize(t);
        EXPECT_EQ(only_fork(data_of(c)).at("forkBlockNumber"), json::value(2));
        EXPECT_EQ(anvil_children(server->pid()), pool) << "the same fork, back in its pool";
    }
}

TEST(SimPinned, ABlockPastTheUpstreamsHeadFailsProvisioningSayingSo) {
    PinnedServer pinned_server(json::object{{"poolSize", 0}});
    const auto& server = pinned_server.server;
    Api api(server->base_url());
    auto run = api.wait_terminal(
        str_at(api.create_ok(pinned(balance_run("fork", kOldBalance), 1000)), "id"), 60s);
    EXPECT_EQ(str_at(run, "status"), "failure");
    EXPECT_EQ(str(value_at(run, "/executionState/error/code")), "provisioning_failed");
    const auto error = str(only_fork(run).at("error"));
    EXPECT_NE(error.find("1000"), std::string::npos) << error;
    EXPECT_TRUE(anvil_children(server->pid()).empty());
}

TEST(SimPinned, EveryProblemOfTheOptionsIsListed) {
    Upstream up;
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"1", json::object{{"upstreamRpcUrl", up.anvil.url()},
                                                                {"poolSize", 0}}},
                                             {"8453", json::object{{"poolSize", 0}}}}}},
        dir);
    Api api(server->base_url());
    auto body = sim_request("fork", json::array{1, 8453},
                            json::object{{"root", root({"w"})}, {"w", wait_node(1)}});
    body["forkBlockNumbers"] = json::object{{"1", -1}, {"8453", 5}, {"10", 5}, {"x", 5}, {"01", 5}};
    body["keepForksOnFailure"] = 3601;
    auto r = api.create(body);
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(are_validation_errors(r));
    const auto errors = errors_of(r);
    for (const char* at : {"/forkBlockNumbers/1", "/forkBlockNumbers/8453", "/forkBlockNumbers/10",
                           "/forkBlockNumbers/x", "/forkBlockNumbers/01", "/keepForksOnFailure"}) {
        EXPECT_TRUE(has_error_at(errors, at)) << at << ": " << r.body;
    }
    EXPECT_EQ(errors.size(), 6u) << r.body;

    body["forkBlockNumbers"] = json::object{{"1", 1.5}};
    body["keepForksOnFailure"] = "10";
    r = api.create(body);
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(has_error_at(errors_of(r), "/forkBlockNumbers/1")) << r.body;
    EXPECT_TRUE(has_error_at(errors_of(r), "/keepForksOnFailure")) << r.body;

    body["forkBlockNumbers"] = nullptr;
    body["keepForksOnFailure"] = nullptr;
    r = api.create(body);
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(has_error_at(errors_of(r), "/forkBlockNumbers")) << r.body;
    EXPECT_TRUE(has_error_at(errors_of(r), "/keepForksOnFailure")) << r.body;

    auto live = wait_run(unique_workflow_id("live"), 1);
    live["forkBlockNumbers"] = json::object{{"1", 2}};
    live["keepForksOnFailure"] = 10;
    r = api.create(live);
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(has_error_at(errors_of(r), "/forkBlockNumbers")) << r.body;
    EXPECT_TRUE(has_error_at(errors_of(r), "/keepForksOnFailure")) << r.body;
}

}  // namespace
}  // namespace forkrun::http::test
