// assert's comparisons: integers of any size and notation, numbers, else text.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "controller/assert_compare.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;

TEST(AssertCompare, IntegersCompareAcrossNotations) {
    EXPECT_TRUE(assert_holds(json::value("0x3e8"), AssertOp::kEquals, json::value(1000)));
    EXPECT_TRUE(assert_holds(json::value("1000"), AssertOp::kEquals, json::value("0x03E8")));
    EXPECT_TRUE(assert_holds(json::value("0x10"), AssertOp::kGte, json::value("9")));
    EXPECT_TRUE(assert_holds(json::value(-5), AssertOp::kLte, json::value("3")));
    EXPECT_FALSE(assert_holds(json::value("0x0"), AssertOp::kNotEquals, json::value(0)));
}

TEST(AssertCompare, HugeIntegersBeyond64Bits) {
    const json::value big(
        "115792089237316195423570985008687907853269984665640564039457584007913129639935");
    EXPECT_TRUE(assert_holds(
        big, AssertOp::kEquals,
        json::value("0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")));
    EXPECT_TRUE(assert_holds(big, AssertOp::kGte, json::value("18446744073709551616")));
}

TEST(AssertCompare, NonIntegersCompareAsNumbersOrText) {
    EXPECT_TRUE(assert_holds(json::value(1.5), AssertOp::kLte, json::value(2)));
    EXPECT_TRUE(assert_holds(json::value("abc"), AssertOp::kEquals, json::value("abc")));
    EXPECT_TRUE(assert_holds(json::value("abc"), AssertOp::kLte, json::value("abd")));
    EXPECT_TRUE(assert_holds(json::value(true), AssertOp::kEquals, json::value(true)));
    EXPECT_TRUE(
        assert_holds(json::parse(R"({"a":1})"), AssertOp::kEquals, json::parse(R"({"a":1})")));
    EXPECT_TRUE(assert_holds(json::value(nullptr), AssertOp::kNotEquals, json::value("x")));
}

}  // namespace
}  // namespace forkrun::controller
