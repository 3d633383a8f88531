// The simulation report against real anvil: a transfer's trace and balance changes, revert
// reasons of a hand-assembled contract, a client's transaction through the rpcUrl in the run's
// net changes, the report switched off, and a fork whose first anvil never became ready.
#include <sys/stat.h>

#include <fstream>

#include "forks/test_anvil.hpp"
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

constexpr const char* kDev0Lower =
    "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";  // the default signer
constexpr const char* kDev2 = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";
constexpr const char* kCoinbase = "0x0000000000000000000000000000000000000000";
// anvil's first block's base fee (1 gwei) and a plain transfer's gas.
constexpr std::int64_t kBaseFee = 1'000'000'000;
constexpr std::int64_t kTransferGas = 21000;

// Init code (12 bytes: CODECOPY the runtime, RETURN it) and a runtime that reverts with
// Error("not enough") for selector 0x11111111 and Panic(0x11) for 0x22222222 (tools: none, by
// hand; see the opcodes' comments in docs/decisions.md, "Simulation report").
constexpr const char* kInitCode =
    "0x60a2600c60003960a26000f3"
    "60003560e01c80631111111114601b5780632222222214607357005b"
    "7f08c379a000000000000000000000000000000000000000000000000000000000600052"
    "6020600452600a6024527f6e6f7420656e6f75676800000000000000000000000000000000000000000000"
    "60445260646000fd5b"
    "7f4e487b7100000000000000000000000000000000000000000000000000000000600052"
    "601160045260246000fd";
// Where dev account #2's first deployment lands (CREATE from nonce 0).
constexpr const char* kContract = "0x663f3ad617193148711d28f5334ee4ed07016602";

using Wei = __int128;

// A server whose chain 31337 is a local chain forked per run (no pool).
std::unique_ptr<ServerProcess> fork_server(TempDir& dir, json::object config = {}) {
    config["chains"] = json::object{{"31337", json::object{{"poolSize", 0}}}};
    return start_server_with_config(config, dir);
}

Wei wei(const json::value& v) {
    const std::string s = str(v);
    Wei out = 0;
    std::size_t i = s.starts_with('-') ? 1 : 0;
    for (; i < s.size(); ++i) {
        out = out * 10 + (s[i] - '0');
    }
    return s.starts_with('-') ? -out : out;
}

std::string text(Wei w) {
    if (w == 0) {
        return "0";
    }
    const bool neg = w < 0;
    std::string out;
    for (Wei v = neg ? -w : w; v > 0; v /= 10) {
        out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    }
    return neg ? "-" + out : out;
}

json::object transfer(std::string to, std::string value, std::vector<std::string> children = {}) {
    return node("transfer", std::move(children),
                json::object{{"chainId", 31337}, {"to", to}, {"valueWei", value}});
}

json::object set_balance(std::string who, std::string value, std::vector<std::string> children) {
    return node("setBalance", std::move(children),
                json::object{{"chainId", 31337}, {"address", who}, {"valueWei", value}});
}

json::object chain_changes(const json::object& run) {
    return value_at(run, "/executionState/changes/31337").as_object();
}

json::object chain_totals(const json::object& run) {
    return value_at(run, "/executionState/changeTotals/31337").as_object();
}

// The chain's totals agree with its accounts: the deltas add up, and minted = delta + burned.
void expect_consistent(const json::object& run) {
    Wei sum = 0;
    const auto changes = chain_changes(run);
    for (const auto& [address, c] : changes) {
        EXPECT_EQ(wei(c.at("afterWei")) - wei(c.at("beforeWei")), wei(c.at("deltaWei"))) << address;
        sum += wei(c.at("deltaWei"));
    }
    const auto totals = chain_totals(run);
    EXPECT_EQ(text(sum), str(totals.at("deltaWei")));
    EXPECT_EQ(text(sum + wei(totals.at("burnedWei"))), str(totals.at("mintedWei")));
    EXPECT_TRUE(totals.at("complete").as_bool()) << json::serialize(totals);
}

TEST(SimReport, TransferHasItsTraceStateDiffAndBalanceChangesAndTheRunItsNetEffect) {
    TempDir dir;
    auto server = fork_server(dir);
    Api api(server->base_url());
    auto nodes = json::object{{"root", root({"fund"})},
                              {"fund", set_balance(kDev0Lower, "100000000000000000000", {"send"})},
                              {"send", transfer(kSink, "1000000000000000000")}};
    const auto id = str_at(api.create_ok(sim_request("fork", json::array{31337}, nodes)), "id");
    const auto run = api.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    const auto out = node_state(run, "send").at("output").as_object();

    const auto& trace = out.at("trace").as_object();
    EXPECT_EQ(str(trace.at("type")), "CALL");
    EXPECT_EQ(str(trace.at("from")), kDev0Lower);
    EXPECT_EQ(str(trace.at("to")), kSink);
    EXPECT_EQ(str(trace.at("value")), "0xde0b6b3a7640000");

    // Sender, recipient and coinbase; what they lose together is the base fee burned.
    std::map<std::string, Wei> delta;
    Wei sum = 0;
    for (const auto& c : out.at("balanceChanges").as_array()) {
        const auto& o = c.as_object();
        EXPECT_EQ(wei(o.at("afterWei")) - wei(o.at("beforeWei")), wei(o.at("deltaWei")));
        delta[str(o.at("address"))] = wei(o.at("deltaWei"));
        sum += wei(o.at("deltaWei"));
    }
    ASSERT_EQ(delta.size(), 3u) << json::serialize(out.at("balanceChanges"));
    EXPECT_EQ(delta[kSink], Wei(1'000'000'000'000'000'000));
    EXPECT_GT(delta[kCoinbase], 0);
    EXPECT_LT(delta[kDev0Lower], -Wei(1'000'000'000'000'000'000));
    EXPECT_EQ(sum + Wei(kTransferGas) * kBaseFee, 0);
    EXPECT_EQ(
        str(value_at(out.at("stateDiff").as_object(), std::string("/") + kSink + "/balance/after")),
        "0xde0b6b3a7640000");
    EXPECT_FALSE(out.contains("revertReason"));

    // The run: setBalance took dev0 from anvil's 10000 ETH to 100, then the transfer.
    const auto changes = chain_changes(run);
    EXPECT_EQ(str(changes.at(kDev0Lower).at("beforeWei")), "10000000000000000000000");
    EXPECT_EQ(wei(changes.at(kDev0Lower).at("afterWei")),
              Wei(100) * 1'000'000'000'000'000'000 + delta[kDev0Lower]);
    EXPECT_EQ(str(changes.at(kSink).at("deltaWei")), "1000000000000000000");
    const auto totals = chain_totals(run);
    EXPECT_EQ(wei(totals.at("burnedWei")), Wei(kTransferGas) * kBaseFee);
    EXPECT_EQ(str(totals.at("mintedWei")), "-9900000000000000000000");
    EXPECT_EQ(totals.at("transactions").to_number<int>(), 1);
    expect_consistent(run);
    // The fork came up at the first try.
    const auto forks = value_at(run, "/executionState/forks").as_object();
    for (const auto& [fork_id, f] : forks) {
        EXPECT_EQ(f.at("startAttempts").to_number<int>(), 1);
    }
}

// A run that deploys the test contract (an rpc node's eth_sendTransaction from dev account #2)
// and calls it with `selector`.
json::object revert_run(std::string_view selector) {
    auto deploy = node(
        "rpc", {"call"},
        json::object{{"chainId", 31337},
                     {"method", "eth_sendTransaction"},
                     {"params", json::array{json::object{{"from", kDev2}, {"data", kInitCode}}}}});
    auto call =
        node("sendTransaction", {},
             json::object{
                 {"chainId", 31337}, {"to", kContract}, {"data", selector}, {"gasLimit", 100000}});
    return sim_request(
        "fork", json::array{31337},
        json::object{
            {"root", root({"deploy"})}, {"deploy", std::move(deploy)}, {"call", std::move(call)}});
}

TEST(SimReport, RevertReasonsAreDecodedForErrorAndPanic) {
    TempDir dir;
    auto server = fork_server(dir);
    Api api(server->base_url());
    const auto error_id = str_at(api.create_ok(revert_run("0x11111111")), "id");
    const auto panic_id = str_at(api.create_ok(revert_run("0x22222222")), "id");

    const auto error_run = api.wait_terminal(error_id, 60s);
    ASSERT_EQ(str_at(error_run, "status"), "failure") << json::serialize(error_run);
    const auto call = node_state(error_run, "call");
    EXPECT_EQ(str(call.at("status")), "failure");
    EXPECT_EQ(str(call.at("error").at("code")), "transaction_reverted");
    EXPECT_NE(str(call.at("error").at("message")).find("Error(\"not enough\")"), std::string::npos)
        << json::serialize(call);
    // The failed node keeps its report.
    const auto& reason = call.at("output").at("revertReason").as_object();
    EXPECT_EQ(str(reason.at("kind")), "error");
    EXPECT_EQ(str(reason.at("message")), "not enough");
    EXPECT_EQ(str(call.at("output").at("trace").at("type")), "CALL");
    EXPECT_EQ(str(call.at("output").at("status")), "0x0");
    // The reverted call still paid for its gas; the deployment (an rpc node's) counts too.
    const auto changes = chain_changes(error_run);
    EXPECT_TRUE(changes.contains(kDev0Lower)) << json::serialize(changes);
    EXPECT_TRUE(changes.contains(kDev2)) << json::serialize(changes);
    EXPECT_EQ(chain_totals(error_run).at("transactions").to_number<int>(), 2);
    expect_consistent(error_run);

    const auto panic_run = api.wait_terminal(panic_id, 60s);
    ASSERT_EQ(str_at(panic_run, "status"), "failure") << json::serialize(panic_run);
    const auto panic = node_state(panic_run, "call");
    const auto& p = panic.at("output").at("revertReason").as_object();
    EXPECT_EQ(str(p.at("kind")), "panic");
    EXPECT_EQ(str(p.at("code")), "0x11");
    EXPECT_EQ(str(p.at("meaning")), "arithmetic overflow or underflow");
    EXPECT_NE(str(panic.at("error").at("message")).find("Panic(0x11"), std::string::npos)
        << json::serialize(panic);
}

TEST(SimReport, ChangesIncludeATransactionAClientSentThroughTheRpcUrl) {
    TempDir dir;
    auto server = fork_server(dir);
    Api api(server->base_url());
    // With automine off the node's transfer waits in the mempool until the client mines.
    auto nodes = json::object{{"root", root({"manual"})},
                              {"manual", node("rpc", {"send"},
                                              json::object{{"chainId", 31337},
                                                           {"method", "evm_setAutomine"},
                                                           {"params", json::array{false}}})},
                              {"send", transfer(kSink, "7")}};
    const auto id = str_at(api.create_ok(sim_request("fork", json::array{31337}, nodes)), "id");
    const auto url = rpc_url_of(wait_forks_ready(api, id, 1), 31337);
    ASSERT_FALSE(url.empty());
    // The node's transaction is in the fork's mempool.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
        const auto status = rpc(url, "txpool_status");
        const auto pending = value_at(status.body.as_object(), "/result/pending");
        if (pending.is_string() && pending.get_string() == "0x1") {
            break;
        }
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << json::serialize(status.body);
        std::this_thread::sleep_for(20ms);  // polling a condition against a deadline
    }
    const auto sent =
        rpc(url, "eth_sendTransaction",
            json::array{json::object{{"from", kDev2}, {"to", kSink2}, {"value", "0x9"}}});
    ASSERT_EQ(sent.status, 200) << json::serialize(sent.body);
    ASSERT_TRUE(sent.body.at("result").is_string()) << json::serialize(sent.body);
    rpc(url, "evm_mine");

    const auto run = api.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    const auto changes = chain_changes(run);
    EXPECT_EQ(str(changes.at(kSink).at("deltaWei")), "7") << json::serialize(changes);
    EXPECT_EQ(str(changes.at(kSink2).at("deltaWei")), "9") << json::serialize(changes);
    EXPECT_TRUE(changes.contains(kDev2));
    const auto totals = chain_totals(run);
    EXPECT_EQ(totals.at("transactions").to_number<int>(), 2);
    // Nothing was minted: the deltas are the base fee burned.
    EXPECT_EQ(str(totals.at("mintedWei")), "0");
    EXPECT_GT(wei(totals.at("burnedWei")), 0);
    expect_consistent(run);
}

TEST(SimReport, SwitchedOffInTheConfigTheReportIsLeftOut) {
    TempDir dir;
    auto server = fork_server(dir, json::object{{"simulationReport", false}});
    Api api(server->base_url());
    auto nodes = json::object{{"root", root({"send"})}, {"send", transfer(kSink, "5")}};
    const auto id = str_at(api.create_ok(sim_request("fork", json::array{31337}, nodes)), "id");
    const auto run = api.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    const auto out = node_state(run, "send").at("output").as_object();
    EXPECT_FALSE(out.contains("trace"));
    EXPECT_FALSE(out.contains("balanceChanges"));
    EXPECT_TRUE(value_at(run, "/executionState/changes").as_object().empty());
}

TEST(SimReport, AForkWhoseFirstAnvilNeverBecameReadyIsStartedAgain) {
    TempDir dir;
    const std::string real = forks::test::anvil_binary();
    // The first start exits before it listens; the second is anvil itself.
    const auto marker = dir.path() / "started-once";
    const auto wrapper = dir.path() / "anvil-flaky";
    std::ofstream(wrapper) << "#!/bin/sh\n"
                           << "if [ ! -e '" << marker.string() << "' ]; then\n"
                           << "  touch '" << marker.string() << "'\n"
                           << "  echo 'not today' >&2\n"
                           << "  exit 3\n"
                           << "fi\n"
                           << "exec '" << real << "' \"$@\"\n";
    ASSERT_EQ(::chmod(wrapper.c_str(), 0755), 0);
    const auto config = dir.path() / "config.json";
    std::ofstream(config) << R"({"chains": {"31337": {"poolSize": 0}}})";
    ServerOptions opts;
    opts.extra_args = {"--config", config.string(), "--anvil", wrapper.string()};
    ServerProcess server(opts);
    Api api(server.base_url());
    auto nodes = json::object{{"root", root({"bal"})}, {"bal", rpc_node(31337, "eth_chainId")}};
    const auto id = str_at(api.create_ok(sim_request("fork", json::array{31337}, nodes)), "id");
    const auto run = api.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    const auto forks = value_at(run, "/executionState/forks").as_object();
    ASSERT_EQ(forks.size(), 1u);
    EXPECT_EQ(forks.begin()->value().at("startAttempts").to_number<int>(), 2)
        << json::serialize(forks);
    EXPECT_TRUE(std::filesystem::exists(marker));
}

}  // namespace
}  // namespace forkrun::http::test
