// Addresses: EIP-55 vectors, acceptance of single-case input, rejection of wrong checksums.
#include <gtest/gtest.h>

#include "eth/vectors.hpp"

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>

#include <boost/json.hpp>

#include "forks/eth/address.hpp"

namespace forkrun::eth {
namespace {

using test::load_vectors;

std::string lower(std::string s) {
    for (auto& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

TEST(EthAddress, ChecksumVectorsRoundTrip) {
    const auto doc = load_vectors("eip55.json");
    for (const auto& v : doc.at("checksummed").as_array()) {
        const std::string text(v.as_string());
        const auto parsed = Address::parse(text);
        ASSERT_TRUE(parsed) << text << ": " << parsed.error().message();
        EXPECT_EQ(parsed->to_checksum(), text);
        EXPECT_EQ(parsed->to_lower_hex(), lower(text));
        // The same address in lowercase parses to the same bytes.
        EXPECT_EQ(Address::parse(lower(text)).value(), *parsed);
    }
}

TEST(EthAddress, SingleCaseInputIsAcceptedUnchecked) {
    const auto doc = load_vectors("eip55.json");
    for (const char* group : {"all_caps", "all_lower"}) {
        for (const auto& v : doc.at(group).as_array()) {
            const std::string text(v.as_string());
            const auto parsed = Address::parse(text);
            ASSERT_TRUE(parsed) << text;
            EXPECT_EQ(parsed->to_lower_hex(), lower(text));
        }
    }
}

TEST(EthAddress, WrongMixedCaseChecksumIsRejected) {
    // Flip the case of one letter of a valid checksum.
    std::string text = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
    text[3] = 'A';
    EXPECT_EQ(Address::parse(text).error(), AddressError::kBadChecksum);
    EXPECT_EQ(Address::parse("0xF39fd6e51aad88f6f4ce6ab8827279cfffb92266").error(),
              AddressError::kBadChecksum);
}

TEST(EthAddress, RejectsMalformedText) {
    EXPECT_EQ(Address::parse("f39fd6e51aad88f6f4ce6ab8827279cfffb92266").error(),
              AddressError::kMissingPrefix);
    EXPECT_EQ(Address::parse("0xf39fd6e51aad88f6f4ce6ab8827279cfffb9226").error(),
              AddressError::kWrongLength);
    EXPECT_EQ(Address::parse("0xf39fd6e51aad88f6f4ce6ab8827279cfffb922666").error(),
              AddressError::kWrongLength);
    EXPECT_EQ(Address::parse("0xg39fd6e51aad88f6f4ce6ab8827279cfffb92266").error(),
              AddressError::kInvalidDigit);
    EXPECT_EQ(Address::parse("").error(), AddressError::kMissingPrefix);
}

TEST(EthAddress, JsonUsesChecksummedText) {
    const auto a = Address::parse("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266").value();
    EXPECT_EQ(boost::json::serialize(boost::json::value_from(a)),
              R"("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")");
    EXPECT_EQ(boost::json::try_value_to<Address>(
                  boost::json::value("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"))
                  .value(),
              a);
    EXPECT_EQ(boost::json::try_value_to<Address>(boost::json::value(5)).error(),
              AddressError::kNotAString);
}

}  // namespace
}  // namespace forkrun::eth
