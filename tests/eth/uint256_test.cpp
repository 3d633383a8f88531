// 256-bit integers: decimal/hex parsing limits, formatting, ordering, checked arithmetic, JSON.
#include <gtest/gtest.h>

#include <algorithm>

#include <boost/json.hpp>

#include "forks/eth/uint256.hpp"

namespace forkrun::eth {
namespace {

constexpr const char* kMaxDecimal =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";
constexpr const char* kMaxPlusOneDecimal =
    "115792089237316195423570985008687907853269984665640564039457584007913129639936";

TEST(EthUint256, ParsesDecimalUpToTheMaximum) {
    EXPECT_EQ(Uint256::from_decimal("0").value(), Uint256{});
    EXPECT_EQ(Uint256::from_decimal("000").value(), Uint256{});
    EXPECT_EQ(Uint256::from_decimal("18446744073709551615").value(), Uint256{UINT64_MAX});
    EXPECT_EQ(Uint256::from_decimal(kMaxDecimal).value(), Uint256::max());
    EXPECT_EQ(Uint256::from_decimal(kMaxDecimal).value().to_decimal(), kMaxDecimal);
    const auto above_u64 = Uint256::from_decimal("18446744073709551616").value();
    EXPECT_FALSE(above_u64.fits_uint64());
    EXPECT_EQ(above_u64.to_hex(), "0x10000000000000000");
}

TEST(EthUint256, RejectsBadDecimal) {
    EXPECT_EQ(Uint256::from_decimal("").error(), Uint256Error::kEmpty);
    EXPECT_EQ(Uint256::from_decimal(kMaxPlusOneDecimal).error(), Uint256Error::kOverflow);
    EXPECT_EQ(Uint256::from_decimal(std::string(kMaxDecimal) + "0").error(),
              Uint256Error::kOverflow);
    EXPECT_EQ(Uint256::from_decimal("-1").error(), Uint256Error::kInvalidDigit);
    EXPECT_EQ(Uint256::from_decimal("1.5").error(), Uint256Error::kInvalidDigit);
    EXPECT_EQ(Uint256::from_decimal(" 1").error(), Uint256Error::kInvalidDigit);
    EXPECT_EQ(Uint256::from_decimal("1e18").error(), Uint256Error::kInvalidDigit);
    EXPECT_EQ(Uint256::from_decimal("0x10").error(), Uint256Error::kInvalidDigit);
}

TEST(EthUint256, ParsesAndFormatsHex) {
    EXPECT_EQ(Uint256::from_hex("0x0").value(), Uint256{});
    EXPECT_EQ(Uint256::from_hex("0xde0b6b3a7640000").value().to_decimal(), "1000000000000000000");
    EXPECT_EQ(Uint256::from_hex("0x" + std::string(64, 'f')).value(), Uint256::max());
    EXPECT_EQ(Uint256::from_hex("0x000" + std::string(64, 'F')).value(), Uint256::max());
    EXPECT_EQ(Uint256::from_hex("0x1" + std::string(64, '0')).error(), Uint256Error::kOverflow);
    EXPECT_EQ(Uint256::from_hex("0x").error(), Uint256Error::kEmpty);
    EXPECT_EQ(Uint256::from_hex("10").error(), Uint256Error::kMissingPrefix);
    EXPECT_EQ(Uint256::from_hex("0x1g").error(), Uint256Error::kInvalidDigit);
    EXPECT_EQ(Uint256{}.to_hex(), "0x0");
    EXPECT_EQ(Uint256{0x1234}.to_hex(), "0x1234");
    EXPECT_EQ(Uint256{0xabc}.to_hex(), "0xabc");
}

TEST(EthUint256, BigEndianBytes) {
    const auto v = Uint256::from_hex("0x0102").value();
    EXPECT_EQ(v.to_minimal_big_endian(), (std::vector<uint8_t>{0x01, 0x02}));
    EXPECT_EQ(v.to_big_endian()[30], 0x01);
    EXPECT_EQ(v.to_big_endian()[31], 0x02);
    EXPECT_TRUE(Uint256{}.to_minimal_big_endian().empty());
    EXPECT_EQ(Uint256::from_big_endian(v.to_big_endian()).value(), v);
    EXPECT_EQ(Uint256::from_big_endian(std::vector<uint8_t>(33, 0)).error(),
              Uint256Error::kTooManyBytes);
}

TEST(EthUint256, OrdersAcrossLimbs) {
    const auto small = Uint256{UINT64_MAX};
    const auto big = Uint256::from_decimal("18446744073709551616").value();
    EXPECT_LT(small, big);
    EXPECT_GT(Uint256::max(), big);
    EXPECT_EQ(min(small, big), small);
    EXPECT_EQ(std::min(big, small), small);
    EXPECT_EQ(min(Uint256{7}, Uint256{7}), Uint256{7});
}

TEST(EthUint256, CheckedArithmetic) {
    const auto one = Uint256{1};
    EXPECT_EQ(checked_add(Uint256{UINT64_MAX}, one).value().to_decimal(), "18446744073709551616");
    EXPECT_EQ(checked_add(Uint256::max(), one).error(), Uint256Error::kOverflow);
    EXPECT_EQ(checked_sub(Uint256::from_decimal("18446744073709551616").value(), one).value(),
              Uint256{UINT64_MAX});
    EXPECT_EQ(checked_sub(one, Uint256{2}).error(), Uint256Error::kUnderflow);
    EXPECT_EQ(checked_sub(Uint256::max(), Uint256::max()).value(), Uint256{});
    EXPECT_EQ(checked_mul(Uint256{21000}, Uint256{30'000'000'000ULL}).value().to_decimal(),
              "630000000000000");
    EXPECT_EQ(checked_mul(Uint256::from_decimal("340282366920938463463374607431768211456").value(),
                          Uint256::from_decimal("340282366920938463463374607431768211455").value())
                  .value(),
              checked_sub(Uint256::max(),
                          Uint256::from_decimal("340282366920938463463374607431768211455").value())
                  .value());  // 2^128 * (2^128 - 1) = 2^256 - 2^128
    EXPECT_EQ(checked_mul(Uint256::max(), Uint256{2}).error(), Uint256Error::kOverflow);
    EXPECT_EQ(divided_by(Uint256{1'000'000'007}, 8), Uint256{125'000'000});
    EXPECT_EQ(divided_by(Uint256::max(), 1), Uint256::max());
    EXPECT_EQ(checked_mul(divided_by(Uint256::max(), 1ULL << 63), Uint256{1ULL << 63}).value(),
              checked_sub(Uint256::max(), Uint256{(1ULL << 63) - 1}).value());
    EXPECT_EQ(saturating_sub(Uint256{5}, Uint256{9}), Uint256{});
    EXPECT_EQ(saturating_sub(Uint256{9}, Uint256{5}), Uint256{4});
}

TEST(EthUint256, DecimalRoundTrip) {
    for (const char* text : {"1", "10", "9999999999999999999", "10000000000000000000",
                             "1000000000000000000000000000000000000001", kMaxDecimal}) {
        EXPECT_EQ(Uint256::from_decimal(text).value().to_decimal(), text);
    }
}

TEST(EthUint256, JsonIsADecimalString) {
    const auto v = Uint256::from_decimal("1000000000000000000000").value();
    EXPECT_EQ(boost::json::serialize(boost::json::value_from(v)), R"("1000000000000000000000")");
    EXPECT_EQ(boost::json::try_value_to<Uint256>(boost::json::value("42")).value(), Uint256{42});
    EXPECT_EQ(boost::json::try_value_to<Uint256>(boost::json::value(42)).value(), Uint256{42});
    EXPECT_EQ(boost::json::try_value_to<Uint256>(boost::json::value(-1)).error(),
              Uint256Error::kNotAString);
    EXPECT_EQ(boost::json::try_value_to<Uint256>(boost::json::value(1.5)).error(),
              Uint256Error::kNotAString);
    EXPECT_EQ(boost::json::try_value_to<Uint256>(boost::json::value("12a")).error(),
              Uint256Error::kInvalidDigit);
}

}  // namespace
}  // namespace forkrun::eth
