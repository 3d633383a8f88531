// Nonces and quotas across controllers on one real PostgreSQL 15 (decision 73): one signer's live
// transfers from runs on A and on B get distinct, gap-free nonces and all land on the one live
// chain (a real anvil both use as their upstream); an organization at its active-run limit on A
// is refused on B with the contract's 429, and B takes its run once one of A's has ended.
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "forks/test_anvil.hpp"
#include "http/pg_server.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

using forks::test::TestAnvil;

// `forkrun serve` on `pg` as controller `id`, with `config` and `more` arguments.
std::unique_ptr<ServerProcess> configured_member(const PgServer& pg,
                                                 TempDir& dir,
                                                 const std::string& id,
                                                 const json::object& config,
                                                 std::vector<std::string> more = {}) {
    const auto path = dir.path() / (id + ".json");
    std::ofstream(path) << json::serialize(config);
    ServerOptions opts;
    opts.extra_args = {"--config", path.string(),    "--store", pg.url(), "--controller-id",
                       id,         "--no-access-log"};
    opts.extra_args.insert(opts.extra_args.end(), more.begin(), more.end());
    return std::make_unique<ServerProcess>(opts);
}

// The nonce of transaction `hash` on the chain at `url`, or -1 when it is not there.
long long nonce_on_chain(const std::string& url, const std::string& hash) {
    const auto reply = rpc(url, "eth_getTransactionByHash", json::array{json::value(hash)});
    const auto* tx =
        reply.body.is_object() ? reply.body.as_object().if_contains("result") : nullptr;
    const auto* nonce = tx && tx->is_object() ? tx->as_object().if_contains("nonce") : nullptr;
    return nonce && nonce->is_string() ? std::stoll(str(*nonce), nullptr, 16) : -1;
}

// The end of a member's log, for a failure's message.
std::string last_lines(const std::string& text) {
    constexpr std::size_t kChars = 4000;
    return text.size() <= kChars ? text : text.substr(text.size() - kChars);
}

TEST(PgMembersShared, OneSignersLiveTransfersFromRunsOnAAndBNeverCollide) {
    PgServer pg;
    TempDir dir;
    TestAnvil chain(1);
    const auto key_path = dir.path() / "signer.key";
    std::ofstream(key_path) << kKey1 << "\n";
    const json::object config{
        {"chains",
         json::object{{"1", json::object{{"upstreamRpcUrl", chain.url()}, {"poolSize", 0}}}}},
        {"signers", json::object{{"default", json::object{{"privateKeyFile", key_path.string()}}}}},
        // anvil's pool can leave a ready transaction queued when sends arrive out of order
        // (foundry-rs/foundry#10122): replaced soon, as a live chain's stuck one would be.
        {"replaceUnminedAfterMs", 2000}};
    auto a = configured_member(pg, dir, "a", config);
    auto b = configured_member(pg, dir, "b", config);
    const std::vector<Api> members{Api(a->base_url()), Api(b->base_url())};

    // Twelve live transfer runs created at once, alternately on A and on B, each from the one
    // configured signer on the one chain.
    constexpr int kRuns = 12;
    std::vector<std::string> ids(kRuns);
    std::vector<std::thread> creators;
    for (int i = 0; i < kRuns; ++i) {
        creators.emplace_back([&, i] {
            // Plain accounts (0x...e0 on), clear of the precompiles' addresses.
            char sink[43];
            std::snprintf(sink, sizeof sink, "0x%038x%02x", 0, 0xe0 + i);
            auto nodes = json::object{
                {"root", root({"send"})},
                {"send", node("transfer", {},
                              json::object{{"chainId", 1}, {"to", sink}, {"valueWei", "1000"}})}};
            ids[static_cast<std::size_t>(i)] =
                str_at(members[static_cast<std::size_t>(i % 2)].create_ok(
                           run_request(unique_workflow_id("nonce"), nodes)),
                       "id");
        });
    }
    for (auto& t : creators) {
        t.join();
    }

    std::set<long long> nonces;
    for (int i = 0; i < kRuns; ++i) {
        const auto& id = ids[static_cast<std::size_t>(i)];
        ASSERT_FALSE(id.empty());
        const auto run = members[static_cast<std::size_t>(i % 2)].wait_terminal(id, 60s);
        ASSERT_EQ(str_at(run, "status"), "success")
            << json::serialize(run) << "\nthe chain's pool: "
            << json::serialize(rpc(chain.url(), "txpool_inspect", json::array{}).body)
            << "\nA's stderr:\n"
            << last_lines(a->stderr_text()) << "\nB's stderr:\n"
            << last_lines(b->stderr_text());
        const auto out = node_state(run, "send").at("output").as_object();
        EXPECT_EQ(str(out.at("status")), "0x1");
        EXPECT_EQ(str(out.at("from")), kDev1);
        const long long nonce = nonce_on_chain(chain.url(), str(out.at("txHash")));
        ASSERT_GE(nonce, 0) << str(out.at("txHash")) << " is not on the chain";
        nonces.insert(nonce);
    }
    ASSERT_EQ(nonces.size(), static_cast<std::size_t>(kRuns)) << "two transfers shared a nonce";
    // Gap-free from the signer's first transaction: a hole would hold every later one back.
    EXPECT_EQ(*nonces.begin(), 0);
    EXPECT_EQ(*nonces.rbegin(), kRuns - 1);
    // Every nonce is settled (a node's settle lands just after its run ends): none is out, and
    // the count is forgotten (the next transfer reads the chain again).
    const std::string out = "SELECT count(*) FROM nonce_allocations";
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (pg.value(out) != "0" && std::chrono::steady_clock::now() < deadline) {
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(pg.value(out), "0");
    EXPECT_EQ(pg.value("SELECT count(*) FROM nonce_counters"), "0");

    // A later transfer on B continues from the chain's count.
    auto nodes = json::object{
        {"root", root({"send"})},
        {"send", node("transfer", {},
                      json::object{{"chainId", 1},
                                   {"to", "0x0000000000000000000000000000000000000099"},
                                   {"valueWei", "1000"}})}};
    const auto later = members[1].wait_terminal(
        str_at(members[1].create_ok(run_request(unique_workflow_id("nonce"), nodes)), "id"), 60s);
    ASSERT_EQ(str_at(later, "status"), "success") << json::serialize(later);
    EXPECT_EQ(nonce_on_chain(chain.url(),
                             str(node_state(later, "send").at("output").as_object().at("txHash"))),
              kRuns);
}

// Creates `body` on `api` until it is not refused by a quota, or the deadline.
HttpResponse create_when_room(const Api& api,
                              const json::object& body,
                              std::chrono::seconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
        auto r = api.create(body);
        if (r.status != 429 || std::chrono::steady_clock::now() >= deadline) {
            return r;
        }
        // Polling a condition against a deadline: the ended run's place is given back.
        std::this_thread::sleep_for(20ms);
    }
}

// Controller `id` on `pg` with at most `runs` active runs per organization.
std::unique_ptr<ServerProcess> limited(const PgServer& pg,
                                       TempDir& dir,
                                       const std::string& id,
                                       int runs) {
    return configured_member(pg, dir, id, json::object{},
                             {"--max-active-runs-per-org", std::to_string(runs)});
}

TEST(PgMembersShared, AnOrganizationAtItsLimitOnAIsRefusedOnB) {
    PgServer pg;
    TempDir dir;
    auto a = limited(pg, dir, "a", 3);
    auto b = limited(pg, dir, "b", 3);
    Api on_a(a->base_url());
    Api on_b(b->base_url());

    std::vector<std::string> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(str_at(on_a.create_ok(wait_run(unique_workflow_id("q"), 600)), "id"));
    }
    // A holds all three of the organization's places: B refuses it, as A does.
    for (const Api* api : {&on_b, &on_a}) {
        const auto refused = api->create(wait_run(unique_workflow_id("q"), 600));
        ASSERT_EQ(refused.status, 429) << refused.body;
        EXPECT_TRUE(is_envelope(refused));
        const std::string retry = refused.header("Retry-After");
        EXPECT_TRUE(!retry.empty() && std::all_of(retry.begin(), retry.end(), ::isdigit))
            << "Retry-After: " << retry;
        EXPECT_TRUE(contains_ci(message_of(refused), "maxActiveRunsPerOrg")) << message_of(refused);
        EXPECT_TRUE(contains_ci(message_of(refused), "3 active runs")) << message_of(refused);
    }
    // Another organization is not held back by this one's runs.
    ASSERT_EQ(on_b.create(wait_run(unique_workflow_id("q"), 0), kTokenBRw).status, 201);
    // The refused runs were never stored.
    EXPECT_EQ(pg.value("SELECT count(*) FROM runs WHERE organization_id = (SELECT "
                       "organization_id FROM runs WHERE id = '" +
                       held[0] + "')"),
              "3");

    // One of A's runs ends: B takes the organization's next run.
    ASSERT_EQ(on_a.cancel(held[0]).status, 200);
    const auto taken = create_when_room(on_b, wait_run(unique_workflow_id("q"), 600), 10s);
    ASSERT_EQ(taken.status, 201) << taken.body;
    held.push_back(str_at(data_of(taken), "id"));
    // Now B holds one of the three: A is refused again.
    EXPECT_EQ(on_a.create(wait_run(unique_workflow_id("q"), 600)).status, 429);
    for (std::size_t i = 1; i < held.size(); ++i) {
        EXPECT_EQ((i + 1 < held.size() ? on_a : on_b).cancel(held[i]).status, 200);
    }
    // Every place is given back in the store once the runs have ended.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (pg.value("SELECT coalesce(sum(runs), 0) FROM quota_counters") != "0" &&
           std::chrono::steady_clock::now() < deadline) {
        // Polling a condition against a deadline.
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(pg.value("SELECT coalesce(sum(runs), 0) FROM quota_counters"), "0");
}

// Creates racing for an organization's last places on both members, taken in batches (decision
// 76): exactly the limit is created, every other create is the contract's 429, and no refused run
// is stored.
TEST(PgMembersShared, ConcurrentCreatesOnAAndBTakeExactlyTheOrganizationsPlaces) {
    PgServer pg;
    TempDir dir;
    constexpr int kLimit = 5;
    auto a = limited(pg, dir, "a", kLimit);
    auto b = limited(pg, dir, "b", kLimit);
    const std::vector<Api> members{Api(a->base_url()), Api(b->base_url())};
    constexpr int kCreates = 24;
    std::vector<int> statuses(kCreates);
    std::vector<std::thread> creators;
    for (int i = 0; i < kCreates; ++i) {
        creators.emplace_back([&, i] {
            statuses[static_cast<std::size_t>(i)] =
                members[static_cast<std::size_t>(i % 2)]
                    .create(wait_run(unique_workflow_id("q"), 600))
                    .status;
        });
    }
    for (auto& t : creators) {
        t.join();
    }
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), kLimit);
    EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), kCreates - kLimit);
    EXPECT_EQ(pg.value("SELECT count(*) FROM runs"), std::to_string(kLimit));
    EXPECT_EQ(pg.value("SELECT sum(runs) FROM quota_counters"), std::to_string(kLimit));
}

// A controller that is gone stops holding its organization's places once it is restarted.
TEST(PgMembersShared, AKilledControllersPlacesAreFreedWhenItComesBack) {
    PgServer pg;
    TempDir dir;
    auto a = limited(pg, dir, "a", 2);
    auto b = limited(pg, dir, "b", 2);
    {
        Api on_a(a->base_url());
        on_a.create_ok(wait_run(unique_workflow_id("q"), 600));
        on_a.create_ok(wait_run(unique_workflow_id("q"), 600));
    }
    Api on_b(b->base_url());
    ASSERT_EQ(on_b.create(wait_run(unique_workflow_id("q"), 600)).status, 429);
    a->stop(SIGKILL);
    a = limited(pg, dir, "a", 2);
    // A's leftovers were finished at its start, and its old counts no longer count.
    const auto taken = on_b.create(wait_run(unique_workflow_id("q"), 600));
    EXPECT_EQ(taken.status, 201) << taken.body;
}

}  // namespace
}  // namespace forkrun::http::test
