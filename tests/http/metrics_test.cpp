// GET /metrics: Prometheus text, no token, and counters that move with the work done.
#include <regex>

#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

// The value of the sample `name{labels}` (labels as written), or -1 when absent.
double sample(const std::string& text, const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) {
        return -1;
    }
    return std::stod(text.substr(at + series.size() + 2));
}

std::string scrape(const Api& api) {
    HttpRequest req = make_request("GET", "/metrics");
    auto r = api.send(std::move(req), false);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.header("Content-Type").starts_with("text/plain")) << r.header("Content-Type");
    return "\n" + r.body;
}

TEST(Metrics, CountersMoveWithRunsCancelsForksAndRefusedGatewayCalls) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}}}, dir);
    Api api(server->base_url());
    const auto before = scrape(api);
    EXPECT_EQ(sample(before, "forkrun_runs_created_total"), 0);
    EXPECT_EQ(sample(before, "forkrun_forks_live{mode=\"pool\"}"), 0);

    // A quick run that succeeds, and a pool simulation cancelled after a refused call.
    api.wait_terminal(str_at(api.create_ok(quick_run(unique_workflow_id("m"))), "id"));
    const std::string id =
        str_at(api.create_ok(sim_request(
                   "pool", {31337}, json::object{{"root", root({"w"})}, {"w", wait_node(60)}})),
               "id");
    const auto url = rpc_url_of(wait_forks_ready(api, id, 1), 31337);
    rpc(url, "anvil_nodeInfo");
    rpc(url, "eth_blockNumber");
    const auto during = scrape(api);
    EXPECT_EQ(sample(during, "forkrun_forks_live{mode=\"pool\"}"), 1);
    EXPECT_EQ(sample(during, "forkrun_runs_active"), 1);
    auto cancelled = api.cancel(id);
    ASSERT_EQ(cancelled.status, 200);
    const auto total_cu = data_of(cancelled).at("totalCu").to_number<double>();

    const auto after = scrape(api);
    EXPECT_EQ(sample(after, "forkrun_runs_created_total"), 2);
    EXPECT_EQ(sample(after, "forkrun_runs_finished_total{status=\"success\"}"), 1);
    EXPECT_EQ(sample(after, "forkrun_runs_finished_total{status=\"cancelled\"}"), 1);
    EXPECT_EQ(sample(after, "forkrun_forks_live{mode=\"pool\"}"), 0);
    EXPECT_EQ(sample(after, "forkrun_gateway_calls_total{outcome=\"refused\"}"), 1);
    EXPECT_EQ(sample(after, "forkrun_gateway_calls_total{outcome=\"forwarded\"}"), 1);
    EXPECT_EQ(sample(after, "forkrun_cancel_seconds_count"), 1);
    EXPECT_EQ(sample(after, "forkrun_fork_provision_seconds_count"), 1);
    EXPECT_GE(sample(after, "forkrun_cu_total"), total_cu);
    EXPECT_GE(sample(after, "forkrun_http_requests_total{route=\"/v1/runs\",code=\"201\"}"), 2);
    EXPECT_GE(sample(after, "forkrun_http_requests_total{route=\"/rpc/{secret}\",code=\"200\"}"),
              2);
    // No secret or run id ever becomes a label.
    EXPECT_EQ(after.find(url.substr(url.rfind('/') + 1)), std::string::npos);
    EXPECT_EQ(after.find(id), std::string::npos);
    // Every histogram's +Inf bucket equals its count.
    const std::regex inf(R"((\w+)_bucket\{le="\+Inf"\} (\d+))");
    for (std::sregex_iterator it(after.begin(), after.end(), inf), end; it != end; ++it) {
        EXPECT_EQ(sample(after, (*it)[1].str() + "_count"), std::stod((*it)[2].str()));
    }
}

}  // namespace
}  // namespace forkrun::http::test
