// Nonces per (signer, chain) across live runs: ten live transfer runs started at once with one
// configured signer on the devnet's chain 1 all land, with ten distinct, gap-free nonces.
#include <fstream>
#include <set>
#include <thread>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

// anvil's dev account #1 and its key: funded on every fresh anvil chain; public test data.
constexpr const char* kKey1 = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
constexpr const char* kDev1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

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
             json::object{{"default", json::object{{"privateKeyFile", key_path.string()}}}}}},
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

}  // namespace
}  // namespace forkrun::http::test
