// Tests for the pure part of a transaction's simulation report: the revert data of a call frame.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "controller/tx_report.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;

TEST(RevertReason, TheRevertDataOfACallFrame) {
    EXPECT_FALSE(revert_data(json::parse(R"({"type":"CALL","output":"0x01"})")));
    const auto data = revert_data(
        json::parse(R"({"type":"CALL","output":"0x0102","error":"execution reverted"})"));
    ASSERT_TRUE(data);
    EXPECT_EQ(data->size(), 2u);
}

}  // namespace
}  // namespace forkrun::controller
