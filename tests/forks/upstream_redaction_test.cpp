// Upstream URLs (which carry providers' API keys) are cut out of every text bound for a client.
#include "forks/upstream_redaction.hpp"

#include <gtest/gtest.h>

namespace forkrun::forks {
namespace {

TEST(UpstreamRedaction, EveryOccurrenceIsReplacedWithOrWithoutATrailingSlash) {
    const std::string url = "https://eth.example/v2/SECRETKEY";
    const auto out = redact_url(
        "error sending request for url (https://eth.example/v2/SECRETKEY/); again "
        "https://eth.example/v2/SECRETKEY.",
        url);
    EXPECT_EQ(out.find("SECRETKEY"), std::string::npos) << out;
    EXPECT_EQ(out, "error sending request for url (<upstream>); again <upstream>.");
    EXPECT_EQ(redact_url("http://127.0.0.1:1/ refused", "http://127.0.0.1:1/"),
              "<upstream> refused");
    EXPECT_EQ(redact_url("nothing here", ""), "nothing here");
    EXPECT_EQ(redact_url("ConnectError(tcp connect error, 127.0.0.1:18546)",
                         "http://127.0.0.1:18546/v2/KEY"),
              "ConnectError(tcp connect error, <upstream>)");
    EXPECT_EQ(redact_url("POST 127.0.0.1:42817: closed", "http://127.0.0.1:42817", "<fork>"),
              "POST <fork>: closed");
}

TEST(UpstreamRedaction, EveryConfiguredChainsUpstreamIsRedacted) {
    ForksConfig config;
    config.chains[1].upstream_rpc_url = "http://a.example/key1";
    config.chains[8453].upstream_rpc_url = "http://b.example/key2";
    config.chains[31337] = {};
    const auto out = redact_upstreams("http://a.example/key1 and http://b.example/key2", config);
    EXPECT_EQ(out, "<upstream> and <upstream>");
}

}  // namespace
}  // namespace forkrun::forks
