// Nonces per (signer, chain) across live runs: ten live transfer runs started at once with one
// configured signer on the devnet's chain 1 all land, with ten distinct, gap-free nonces. A live
// transaction the chain leaves unmined is replaced with higher fees, and the run reports the one
// mined.
#include <fstream>
#include <set>
#include <thread>

#include "forks/eth/uint256.hpp"
#include "forks/test_anvil.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

// anvil's dev account #1 and its key: funded on every fresh anvil chain; public test data.

// eth_getTransactionByHash on `url` (the devnet upstream).
json::object transaction(const std::string& url, const std::string& hash) {
    HttpClient client(url);
    json::object call{{"jsonrpc", "2.0"},
                      {"id", 1},
                      {"method", "eth_getTransactionByHash"},
                      {"params", json::array{json::value(hash)}}};
    HttpRequest req = make_request("POST", "/", json::serialize(call));
    req.headers.emplace_back("Content-Type", "application/json");
    const auto r = client.send(req);
    const auto* result =
        r.json && r.json->is_object() ? r.json->get_object().if_contains("result") : nullptr;
    return result && result->is_object() ? result->get_object() : json::object{};
}

TEST(LiveTransferNonces, TenLiveRunsWithOneSignerOnOneChainAllLandWithDistinctNonces) {
    TempDir dir;
    const auto key_path = dir.path() / "signer.key";
    std::ofstream(key_path) << kKey1 << "\n";
    auto server = start_server_with_config(
        json::object{
            {"devnet", json::array{1}},
            {"chains", json::object{{"1", json::object{{"poolSize", 0}}}}},
            {"signers",
             json::object{{"default", json::object{{"privateKeyFile", key_path.string()}}}}},
            // anvil's pool can leave a ready transaction queued (foundry-rs/foundry#10122).
            {"replaceUnminedAfterMs", 2000}},
        dir);
    const auto upstream = server->wait_for_stdout(std::regex(R"(chain 1: forks (http://[0-9.:]+))"),
                                                  std::chrono::steady_clock::now() + 5s);
    ASSERT_TRUE(upstream) << server->stdout_text();
    Api api(server->base_url());

    constexpr int kRuns = 10;
    std::vector<std::string> ids(kRuns);
    std::vector<std::thread> creators;
    for (int i = 0; i < kRuns; ++i) {
        creators.emplace_back([&, i] {
            const std::string sink = "0x00000000000000000000000000000000000000" +
                                     std::string(i < 10 ? "e" : "") + std::to_string(i);
            auto nodes = json::object{
                {"root", root({"send"})},
                {"send", node("transfer", {},
                              json::object{{"chainId", 1}, {"to", sink}, {"valueWei", "1000"}})}};
            ids[static_cast<std::size_t>(i)] =
                str_at(api.create_ok(run_request(unique_workflow_id("nonce"), nodes)), "id");
        });
    }
    for (auto& t : creators) {
        t.join();
    }

    std::set<std::uint64_t> nonces;
    std::set<std::string> hashes;
    for (const auto& id : ids) {
        ASSERT_FALSE(id.empty());
        const auto run = api.wait_terminal(id, 60s);
        ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
        const auto out = node_state(run, "send").at("output").as_object();
        EXPECT_EQ(str(out.at("status")), "0x1");
        EXPECT_EQ(str(out.at("from")), kDev1);
        const std::string hash = str(out.at("txHash"));
        hashes.insert(hash);
        // The chain's own record of the transaction.
        const auto tx = transaction(upstream->at(1), hash);
        ASSERT_TRUE(tx.contains("nonce")) << hash << " is not on the upstream chain";
        EXPECT_EQ(to_lower(str(tx.at("from"))), to_lower(kDev1));
        nonces.insert(std::stoull(str(tx.at("nonce")), nullptr, 16));
    }
    EXPECT_EQ(hashes.size(), static_cast<std::size_t>(kRuns));
    ASSERT_EQ(nonces.size(), static_cast<std::size_t>(kRuns)) << "two runs shared a nonce";
    // Gap-free: a hole would hold every later transaction of the signer back.
    EXPECT_EQ(*nonces.rbegin() - *nonces.begin(), static_cast<std::uint64_t>(kRuns - 1));
}

// The transaction of `signer` with nonce 0 in the pool of the chain at `url`, or an empty object.
json::object pooled_first(const std::string& url, const std::string& signer) {
    const auto reply = rpc(url, "txpool_content");
    const auto* result =
        reply.body.is_object() ? reply.body.as_object().if_contains("result") : nullptr;
    for (const char* part : {"pending", "queued"}) {
        const auto* by_sender =
            result && result->is_object() ? result->as_object().if_contains(part) : nullptr;
        const auto* txs = by_sender && by_sender->is_object()
                              ? by_sender->as_object().if_contains(to_lower(signer))
                              : nullptr;
        const auto* tx = txs && txs->is_object() ? txs->as_object().if_contains("0") : nullptr;
        if (tx && tx->is_object()) {
            return tx->as_object();
        }
    }
    return {};
}

// Polls the pool of `url` until `signer`'s nonce-0 transaction is there and is not `besides`.
json::object wait_pooled_first(const std::string& url,
                               const std::string& signer,
                               const std::string& besides) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
        auto tx = pooled_first(url, signer);
        if ((!tx.empty() && str(tx.at("hash")) != besides) ||
            std::chrono::steady_clock::now() >= deadline) {
            return tx;
        }
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(5ms);
    }
}

TEST(LiveTransferNonces, AnUnminedTransactionIsReplacedWithHigherFeesAndTheMinedOneReported) {
    // A live chain that mines nothing until told: the transaction stays in its pool.
    forks::test::TestAnvil chain(1);
    ASSERT_EQ(rpc(chain.url(), "evm_setAutomine", json::array{false}).status, 200);
    TempDir dir;
    const auto key_path = dir.path() / "signer.key";
    std::ofstream(key_path) << kKey1 << "\n";
    auto server = start_server_with_config(
        json::object{
            {"chains",
             json::object{{"1", json::object{{"upstreamRpcUrl", chain.url()}, {"poolSize", 0}}}}},
            {"signers",
             json::object{{"default", json::object{{"privateKeyFile", key_path.string()}}}}},
            {"replaceUnminedAfterMs", 300}},
        dir);
    Api api(server->base_url());
    auto nodes = json::object{
        {"root", root({"send"})},
        {"send", node("transfer", {},
                      json::object{{"chainId", 1},
                                   {"to", "0x00000000000000000000000000000000000000e1"},
                                   {"valueWei", "1000"}})}};
    const auto id = str_at(api.create_ok(run_request(unique_workflow_id("replace"), nodes)), "id");

    // The first transaction, then its replacement: the same nonce, another hash, higher fees.
    const auto first = wait_pooled_first(chain.url(), kDev1, "");
    ASSERT_FALSE(first.empty()) << "the transfer never reached the chain's pool";
    const auto second = wait_pooled_first(chain.url(), kDev1, str(first.at("hash")));
    ASSERT_FALSE(second.empty()) << "the unmined transaction was never replaced";
    auto fee = [](const json::object& tx, const char* key) {
        return forkrun::eth::Uint256::from_hex(str(tx.at(key))).value();
    };
    EXPECT_GT(fee(second, "maxFeePerGas"), fee(first, "maxFeePerGas"));
    EXPECT_GT(fee(second, "maxPriorityFeePerGas"), fee(first, "maxPriorityFeePerGas"));
    EXPECT_EQ(str(second.at("to")), str(first.at("to")));
    EXPECT_EQ(str(second.at("value")), str(first.at("value")));

    // Mined now: the run reports the transaction that landed, and names the one it replaced.
    ASSERT_EQ(rpc(chain.url(), "evm_mine").status, 200);
    const auto run = api.wait_terminal(id, 60s);
    ASSERT_EQ(str_at(run, "status"), "success") << json::serialize(run);
    const auto out = node_state(run, "send").at("output").as_object();
    const std::string mined = str(out.at("txHash"));
    EXPECT_NE(mined, str(first.at("hash")));
    EXPECT_EQ(str(out.at("status")), "0x1");
    const auto& replaced = out.at("replacedTxHashes").as_array();
    EXPECT_NE(std::find(replaced.begin(), replaced.end(), first.at("hash")), replaced.end())
        << json::serialize(out);
    EXPECT_EQ(std::find(replaced.begin(), replaced.end(), json::value(mined)), replaced.end());
    EXPECT_EQ(str(transaction(chain.url(), mined).at("nonce")), "0x0");
    // What was replaced never lands.
    EXPECT_TRUE(rpc(chain.url(), "eth_getTransactionReceipt", json::array{first.at("hash")})
                    .body.as_object()
                    .at("result")
                    .is_null());
}

}  // namespace
}  // namespace forkrun::http::test
