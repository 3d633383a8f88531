// Hex encoding and decoding of byte strings and JSON-RPC quantities.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "forks/eth/hex.hpp"

namespace forkrun::eth {
namespace {

TEST(HexEncode, WritesPrefixAndLowercaseDigits) {
    EXPECT_EQ(to_hex(std::vector<uint8_t>{}), "0x");
    EXPECT_EQ(to_hex(std::vector<uint8_t>{0x00, 0x0f, 0xab, 0xff}), "0x000fabff");
}

TEST(HexEncode, QuantityHasNoLeadingZeros) {
    EXPECT_EQ(to_hex_quantity(0), "0x0");
    EXPECT_EQ(to_hex_quantity(1), "0x1");
    EXPECT_EQ(to_hex_quantity(1024), "0x400");
    EXPECT_EQ(to_hex_quantity(31337), "0x7a69");
    EXPECT_EQ(to_hex_quantity(UINT64_MAX), "0xffffffffffffffff");
}

TEST(HexDecode, AcceptsBothCasesWithOrWithoutPrefix) {
    const std::vector<uint8_t> expected{0xde, 0xad, 0xBE, 0xef};
    EXPECT_EQ(from_hex("0xdeadbeef").value(), expected);
    EXPECT_EQ(from_hex("0XDEADBEEF").value(), expected);
    EXPECT_EQ(from_hex("DeadBeef").value(), expected);
    EXPECT_TRUE(from_hex("0x").value().empty());
    EXPECT_TRUE(from_hex("").value().empty());
}

TEST(HexDecode, RejectsOddLengthAndBadDigits) {
    EXPECT_EQ(from_hex("0x123").error(), HexError::kOddLength);
    EXPECT_EQ(from_hex("0xzz").error(), HexError::kInvalidDigit);
    EXPECT_EQ(from_hex("0x0g").error(), HexError::kInvalidDigit);
    EXPECT_EQ(from_hex("0x 1").error(), HexError::kInvalidDigit);
    EXPECT_EQ(from_hex("x12").error(), HexError::kOddLength);
}

TEST(HexDecode, FixedSizeChecksLengthAndZeroesOnFailure) {
    EXPECT_EQ((from_hex_fixed<2>("0x1234").value()), (std::array<uint8_t, 2>{0x12, 0x34}));
    EXPECT_EQ(from_hex_fixed<2>("0x123456").error(), HexError::kWrongLength);
    EXPECT_EQ(from_hex_fixed<2>("0x12").error(), HexError::kWrongLength);

    std::array<uint8_t, 2> out{0xaa, 0xbb};
    EXPECT_EQ(from_hex_into("0x12zz", out), HexError::kInvalidDigit);
    EXPECT_EQ(out, (std::array<uint8_t, 2>{0, 0}));
}

TEST(HexDecode, QuantityAcceptsOddLengthAndChecksRange) {
    EXPECT_EQ(quantity_from_hex("0x0").value(), 0u);
    EXPECT_EQ(quantity_from_hex("0x7a69").value(), 31337u);
    EXPECT_EQ(quantity_from_hex("0x400").value(), 1024u);
    EXPECT_EQ(quantity_from_hex("0x0400").value(), 1024u);
    EXPECT_EQ(quantity_from_hex("0xffffffffffffffff").value(), UINT64_MAX);
    EXPECT_EQ(quantity_from_hex("0x10000000000000000").error(), HexError::kOverflow);
    EXPECT_EQ(quantity_from_hex("400").error(), HexError::kMissingPrefix);
    EXPECT_EQ(quantity_from_hex("0x").error(), HexError::kEmptyQuantity);
    EXPECT_EQ(quantity_from_hex("0x4g").error(), HexError::kInvalidDigit);
}

TEST(HexErrors, HaveMessages) {
    const boost::system::error_code ec = HexError::kOddLength;
    EXPECT_EQ(std::string(ec.category().name()), "forkrun.hex");
    EXPECT_EQ(ec.message(), "hex byte string has an odd number of digits");
}

}  // namespace
}  // namespace forkrun::eth
