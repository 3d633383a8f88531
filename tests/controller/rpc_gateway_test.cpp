// The rpcUrl gateway's memory: rpcUrls of runs the store has dropped are forgotten (404), while
// a kept run's released rpcUrl still answers 410; however many simulations have run.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <memory>
#include <string>
#include <vector>

#include "controller/rpc_gateway.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;

std::shared_ptr<RunRecord> a_record(std::uint64_t seq) {
    Run run;
    run.id = "run_" + std::to_string(seq);
    run.organization_id = "org_a";
    return std::make_shared<RunRecord>(std::move(run), seq);
}

std::string secret_of(const std::string& rpc_url) {
    return rpc_url.substr(rpc_url.rfind('/') + 1);
}

unsigned status_of(asio::io_context& ioc, RpcGateway& gw, const std::string& rpc_url) {
    const std::string secret = secret_of(rpc_url);  // forward() keeps a view of it
    auto reply = asio::co_spawn(ioc, gw.forward(secret, R"({"jsonrpc":"2.0"})"), asio::use_future);
    ioc.restart();
    ioc.run();
    return reply.get().status;
}

TEST(RpcGateway, UrlsOfDroppedRunsAreForgottenSoTheMapStaysBounded) {
    forks::RpcClient rpc;
    const auto cu = forks::CuTable::parse(R"({"version": "t", "defaultCu": 10, "methods": {}})");
    ASSERT_TRUE(cu);
    RpcGateway gw(rpc, *cu);
    gw.set_base_url("http://127.0.0.1:1");

    // One run kept by the store all along, with a released fork.
    const auto kept = a_record(1);
    const auto kept_url = gw.open(kept, "fork_kept", 1, "http://127.0.0.1:2");
    gw.close(kept_url);

    // 20,000 simulations whose runs the store has since dropped (each record dies at once).
    std::string dropped_url;
    for (std::uint64_t i = 0; i < 20000; ++i) {
        dropped_url = gw.open(a_record(i + 2), "fork_" + std::to_string(i), 1, "http://x");
    }
    EXPECT_LT(gw.size(), 2100u) << "targets of dropped runs must not pile up";

    asio::io_context ioc;
    EXPECT_EQ(status_of(ioc, gw, kept_url), 410u) << "a kept run's released rpcUrl says gone";
    const auto status = status_of(ioc, gw, dropped_url);
    EXPECT_TRUE(status == 404u || status == 410u) << status;
    EXPECT_EQ(status_of(ioc, gw, "http://127.0.0.1:1/rpc/nosuchsecret"), 404u);
}

}  // namespace
}  // namespace forkrun::controller
