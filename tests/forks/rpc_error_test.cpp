// Tests for the error category of outbound JSON-RPC calls and the exception a result throws.
#include "forks/rpc_error.hpp"

#include <gtest/gtest.h>

#include <string>
#include <system_error>

#include <boost/system/result.hpp>

namespace forkrun::forks {
namespace {

TEST(RpcError, EachCodeHasItsMessageInTheRpcCategory) {
    const std::pair<RpcErrc, const char*> rpc_error_messages[] = {
        {RpcErrc::kTransport, "transport failure"},
        {RpcErrc::kTimeout, "timed out"},
        {RpcErrc::kAborted, "aborted"},
        {RpcErrc::kHttpStatus, "unexpected HTTP status"},
        {RpcErrc::kBadResponse, "bad JSON-RPC response"},
        {RpcErrc::kRpcError, "JSON-RPC error"}};
    for (const auto& [code, message] : rpc_error_messages) {
        const std::error_code ec = code;  // through is_error_code_enum
        EXPECT_EQ(ec.category().name(), std::string("forkrun.rpc"));
        EXPECT_EQ(&ec.category(), &rpc_category());
        EXPECT_EQ(ec.message(), message);
        EXPECT_TRUE(ec);
    }
    EXPECT_EQ(make_error_code(static_cast<RpcErrc>(0)).message(), "unknown RPC error");
    EXPECT_EQ(make_error_code(static_cast<RpcErrc>(99)).message(), "unknown RPC error");
    EXPECT_NE(make_error_code(RpcErrc::kTimeout), std::make_error_code(std::errc::timed_out));
}

TEST(RpcError, ARpcErrorsCodeIsItsErrorCode) {
    RpcError e;
    EXPECT_EQ(e.error_code(), RpcErrc::kTransport);
    EXPECT_TRUE(e.rpc_data.is_null());
    e.code = RpcErrc::kRpcError;
    EXPECT_EQ(e.error_code(), make_error_code(RpcErrc::kRpcError));
}

TEST(RpcError, ValueOfAFailedResultThrowsTheSentence) {
    RpcError e;
    e.code = RpcErrc::kTimeout;
    e.message = "chain 1: eth_call: timed out after 5000 ms";
    const boost::system::result<int, RpcError> failed = e;
    try {
        (void)failed.value();
        FAIL() << "value() of a failed result returned";
    } catch (const std::system_error& thrown) {
        EXPECT_EQ(thrown.code(), RpcErrc::kTimeout);
        EXPECT_NE(std::string(thrown.what()).find("chain 1: eth_call: timed out after 5000 ms"),
                  std::string::npos)
            << thrown.what();
    }
}

}  // namespace
}  // namespace forkrun::forks
