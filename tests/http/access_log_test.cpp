// The access log's path, attacked as a hostile or careless client would: an rpcUrl's secret in
// every mistyped, escaped or oddly cased form stays out of the line, and so does any query.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <string_view>

#include "http/access_log.hpp"

namespace forkrun::http {
namespace {

struct AccessLogCase {
    std::string_view target;
    std::string_view logged;
};

TEST(AccessLog, AnRpcUrlSecretIsCutFromThePathHoweverTheRpcSegmentIsWritten) {
    const AccessLogCase access_log_cases[] = {
        {"/rpc/s3cret", "/rpc/<redacted>"},
        {"/RPC/s3cret", "/RPC/<redacted>"},
        {"/Rpc/s3cret", "/Rpc/<redacted>"},
        {"/rPc/s3cret", "/rPc/<redacted>"},
        // A percent-escape cuts the path where it starts: "%72" is an 'r' to the router.
        {"/%72pc/s3cret", "/<redacted>"},
        {"/rp%63/s3cret", "/rp<redacted>"},
        {"/rpc%2Fs3cret", "/rpc<redacted>"},
        {"/v1/runs/%2e%2e/rpc/s3cret", "/v1/runs/<redacted>"},
        // Whatever follows "rpc" goes, a '/' only when it is the next byte.
        {"/rpc;/s3cret", "/rpc<redacted>"},
        {"/rpcs3cret", "/rpc<redacted>"},
        {"/rpc//s3cret", "/rpc/<redacted>"},
        {"//rpc/s3cret", "//rpc/<redacted>"},
        {"/x/rpc/s3cret", "/x/rpc/<redacted>"},
        {"http://host:8080/rpc/s3cret", "http://host:8080/rpc/<redacted>"},
        // Bytes a URL parser refuses are redacted all the same.
        {"/rpc/s3cret{|}\"\\", "/rpc/<redacted>"},
        {"/rpc/\xff\xfe s3cret", "/rpc/<redacted>"},
        {"/%zz/s3cret", "/<redacted>"},
        {"/%", "/<redacted>"},
        // A path that holds "rpc" anywhere is cut there: redacting too much is the safe side.
        {"/v1/runs/run_xrpcy/cancel", "/v1/runs/run_xrpc<redacted>"},
    };
    for (const auto& c : access_log_cases) {
        EXPECT_EQ(loggable_path(c.target), c.logged) << c.target;
    }
}

TEST(AccessLog, TheQueryIsNeverLoggedNorSearchedForRpc) {
    const AccessLogCase access_log_cases[] = {
        {"/v1/runs?limit=5&cursor=abc", "/v1/runs"},
        {"/v1/runs?q=/rpc/s3cret", "/v1/runs"},
        {"/rpc/s3cret?x=1", "/rpc/<redacted>"},
        {"/v1/runs?%zz", "/v1/runs"},
        {"/v1/runs/run_1?waitUntil=terminal?again", "/v1/runs/run_1"},
        {"?s3cret", ""},
        {"/healthz?", "/healthz"},
    };
    for (const auto& c : access_log_cases) {
        EXPECT_EQ(loggable_path(c.target), c.logged) << c.target;
    }
}

TEST(AccessLog, PathsWithNothingToHideAreLoggedAsSent) {
    for (const std::string_view target :
         {"/v1/runs", "/v1/runs/run_1/events", "/healthz", "/", "", "*", "/rpc", "/rpc/", "/RPC",
          "/r/p/c", "/rp", "/assets/app.js"}) {
        EXPECT_EQ(loggable_path(target), target);
    }
}

// The line after its time: `{"time":"...",` is followed by exactly this.
std::string access_log_tail(const std::string& line) {
    EXPECT_TRUE(line.starts_with("{\"time\":\"")) << line;
    const auto at = line.find(",\"event\":");
    return at == std::string::npos ? line : line.substr(at);
}

TEST(AccessLog, TheLineNamesTheForkAndNeverTheSecret) {
    const std::string line =
        access_log_line({"req-1", "POST", "/rpc/s3cret?key=s3cret", 200, 1234, "fork_1a2b"});
    EXPECT_EQ(access_log_tail(line),
              ",\"event\":\"http.request\",\"requestId\":\"req-1\",\"method\":\"POST\","
              "\"path\":\"/rpc/<redacted>\",\"forkId\":\"fork_1a2b\",\"status\":200,"
              "\"ms\":1.234}");
    EXPECT_EQ(line.find("s3cret"), std::string::npos) << line;
}

TEST(AccessLog, ALineWithoutAForkHasNoForkIdAndAnEscapedPath) {
    const std::string line = access_log_line({"r", "-", "/v1/\"x\\\n", 400, 7, ""});
    EXPECT_EQ(access_log_tail(line),
              ",\"event\":\"http.request\",\"requestId\":\"r\",\"method\":\"-\","
              "\"path\":\"/v1/\\\"x\\\\\\n\",\"status\":400,\"ms\":0.007}");
    boost::system::error_code ec;
    boost::json::parse(line, ec);
    EXPECT_FALSE(ec) << line;
}

}  // namespace
}  // namespace forkrun::http
