// Keccak-256 against published vectors (and not SHA3-256, which differs in padding).
#include <gtest/gtest.h>

#include "eth/vectors.hpp"

#include <fstream>
#include <sstream>
#include <string>

#include <boost/json.hpp>

#include "forks/eth/hex.hpp"
#include "forks/eth/keccak.hpp"

namespace forkrun::eth {
namespace {

using test::load_vectors;

TEST(KeccakVectors, MatchPublishedHashes) {
    const auto doc = load_vectors("keccak256.json");
    const auto& cases = doc.at("cases").as_array();
    ASSERT_GE(cases.size(), 2u);
    for (const auto& c : cases) {
        const std::string text(c.at("text").as_string());
        const std::string expected(c.at("hash").as_string());
        EXPECT_EQ(to_hex(keccak256(text)), expected) << "text: \"" << text << "\"";
    }
}

TEST(KeccakVectors, BytesAndTextOverloadsAgree) {
    const std::vector<uint8_t> abc{'a', 'b', 'c'};
    EXPECT_EQ(keccak256(abc), keccak256(std::string_view("abc")));
}

TEST(KeccakVectors, IsNotSha3) {
    // SHA3-256("") = a7ffc6f8bf1ed766...; Ethereum's Keccak-256("") starts c5d24601.
    EXPECT_EQ(to_hex(keccak256(std::string_view(""))).substr(0, 10), "0xc5d24601");
}

}  // namespace
}  // namespace forkrun::eth
