// RLP: published encode/decode vectors, rejection of non-canonical and malformed input, and a
// random-input sweep standing in for the fuzzer (no crash, accepted input re-encodes identically).
#include <gtest/gtest.h>

#include "eth/vectors.hpp"

#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <boost/json.hpp>

#include "forks/eth/hex.hpp"
#include "forks/eth/rlp.hpp"

namespace forkrun::eth {
namespace {

using test::load_vectors;

std::vector<uint8_t> bytes(std::string_view hex) {
    return from_hex(hex).value();
}

RlpItem string_item(std::vector<uint8_t> b) {
    RlpItem item;
    item.bytes = std::move(b);
    return item;
}

// Builds the item a fixture's "in" describes (format in fixtures/vectors/rlp.json).
RlpItem item_from_json(const boost::json::value& v) {
    if (const auto* list = v.if_array()) {
        RlpItem item;
        item.is_list = true;
        for (const auto& child : *list) {
            item.items.push_back(item_from_json(child));
        }
        return item;
    }
    if (v.is_number()) {
        return string_item(Uint256(v.to_number<uint64_t>()).to_minimal_big_endian());
    }
    const std::string_view s = v.as_string();
    if (s.starts_with("#")) {
        return string_item(Uint256::from_decimal(s.substr(1)).value().to_minimal_big_endian());
    }
    if (s.starts_with("0x")) {
        return string_item(bytes(s));
    }
    return string_item({s.begin(), s.end()});
}

std::vector<uint8_t> nested_empty_lists(std::size_t depth) {
    std::vector<uint8_t> enc{0xc0};
    for (std::size_t i = 1; i < depth; ++i) {
        std::vector<uint8_t> wrapped;
        rlp_append_list_header(wrapped, enc.size());
        wrapped.insert(wrapped.end(), enc.begin(), enc.end());
        enc = std::move(wrapped);
    }
    return enc;
}

TEST(RlpVectors, EncodeAndDecodePublishedExamples) {
    const auto doc = load_vectors("rlp.json");
    const auto& cases = doc.at("valid").as_array();
    ASSERT_GE(cases.size(), 30u);
    for (const auto& c : cases) {
        const std::string name(c.at("name").as_string());
        const RlpItem item = item_from_json(c.at("in"));
        const std::vector<uint8_t> expected = bytes(c.at("out").as_string());
        EXPECT_EQ(rlp_encode(item), expected) << name;
        auto decoded = rlp_decode(expected);
        ASSERT_TRUE(decoded) << name << ": " << decoded.error().message();
        EXPECT_EQ(*decoded, item) << name;
    }
}

TEST(RlpVectors, RejectPublishedInvalidExamples) {
    const auto doc = load_vectors("rlp.json");
    const auto& cases = doc.at("invalid").as_array();
    ASSERT_GE(cases.size(), 10u);
    for (const auto& c : cases) {
        EXPECT_FALSE(rlp_decode(bytes(c.at("out").as_string()))) << c.at("name").as_string();
    }
}

TEST(RlpEncode, IntegersAreMinimalBigEndian) {
    std::vector<uint8_t> out;
    rlp_append_uint(out, uint64_t{0});
    rlp_append_uint(out, uint64_t{15});
    rlp_append_uint(out, uint64_t{1024});
    rlp_append_uint(out, Uint256::from_decimal("1000000000000000000").value());
    EXPECT_EQ(to_hex(out), "0x800f820400880de0b6b3a7640000");
    EXPECT_EQ(to_hex(rlp_encode_uint(Uint256::max())),
              "0xa0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
}

TEST(RlpEncode, ListOfEncodedItems) {
    const std::vector<std::vector<uint8_t>> items{rlp_encode_bytes(bytes("0x636174")),
                                                  rlp_encode_bytes(bytes("0x646f67"))};
    EXPECT_EQ(to_hex(rlp_encode_list(items)), "0xc88363617483646f67");
    EXPECT_EQ(to_hex(rlp_encode_list({})), "0xc0");
}

TEST(RlpDecode, RejectsEmptyAndTruncatedInput) {
    EXPECT_EQ(rlp_decode({}).error(), RlpError::kEmptyInput);
    EXPECT_EQ(rlp_decode(bytes("0x83646f")).error(), RlpError::kTruncated);
    EXPECT_EQ(rlp_decode(bytes("0xc88363617483646f")).error(), RlpError::kTruncated);
    EXPECT_EQ(rlp_decode(bytes("0xb838")).error(), RlpError::kTruncated);
    EXPECT_EQ(rlp_decode(bytes("0xb9")).error(), RlpError::kTruncated);
    EXPECT_EQ(rlp_decode(bytes("0xb901")).error(), RlpError::kTruncated);
    // A list whose declared size is smaller than its first item.
    EXPECT_EQ(rlp_decode(bytes("0xc283646f67")).error(), RlpError::kTruncated);
}

TEST(RlpDecode, RejectsOversizeLengths) {
    // Eight length bytes of 0xff: must not overflow into a small size.
    EXPECT_EQ(rlp_decode(bytes("0xbfffffffffffffffff")).error(), RlpError::kTruncated);
    EXPECT_EQ(rlp_decode(bytes("0xffffffffffffffffff00")).error(), RlpError::kTruncated);
    EXPECT_EQ(rlp_decode(bytes("0xbf0100000000000000")).error(), RlpError::kTruncated);
}

TEST(RlpDecode, RejectsNonCanonicalLengths) {
    EXPECT_EQ(rlp_decode(bytes("0x8100")).error(), RlpError::kNonCanonicalSize);
    EXPECT_EQ(rlp_decode(bytes("0x817f")).error(), RlpError::kNonCanonicalSize);
    EXPECT_EQ(rlp_decode(bytes("0xb800")).error(), RlpError::kNonCanonicalSize);
    EXPECT_EQ(rlp_decode(bytes("0xb801ff")).error(), RlpError::kNonCanonicalSize);
    EXPECT_EQ(rlp_decode(bytes("0xf800")).error(), RlpError::kNonCanonicalSize);
    EXPECT_EQ(rlp_decode(bytes("0xb90003616263")).error(), RlpError::kNonCanonicalSize);
    // 0x81 0x80 is fine: 0x80 is not a single byte below 0x80.
    EXPECT_EQ(rlp_decode(bytes("0x8180")).value().bytes, bytes("0x80"));
}

TEST(RlpDecode, RejectsTrailingBytes) {
    EXPECT_EQ(rlp_decode(bytes("0x8080")).error(), RlpError::kTrailingBytes);
    EXPECT_EQ(rlp_decode(bytes("0x83646f6700")).error(), RlpError::kTrailingBytes);
    EXPECT_EQ(rlp_decode(bytes("0xc0c0")).error(), RlpError::kTrailingBytes);
}

TEST(RlpDecode, LimitsNesting) {
    EXPECT_TRUE(rlp_decode(nested_empty_lists(kRlpMaxDepth)));
    EXPECT_EQ(rlp_decode(nested_empty_lists(kRlpMaxDepth + 1)).error(), RlpError::kTooDeep);
    EXPECT_EQ(rlp_decode(nested_empty_lists(5000)).error(), RlpError::kTooDeep);
}

TEST(RlpDecode, IntegersMustBeCanonical) {
    EXPECT_EQ(rlp_to_uint64(rlp_decode(bytes("0x80")).value()).value(), 0u);
    EXPECT_EQ(rlp_to_uint64(rlp_decode(bytes("0x0f")).value()).value(), 15u);
    EXPECT_EQ(rlp_to_uint64(rlp_decode(bytes("0x820400")).value()).value(), 1024u);
    EXPECT_EQ(rlp_to_uint64(rlp_decode(bytes("0x88ffffffffffffffff")).value()).value(), UINT64_MAX);
    EXPECT_EQ(rlp_to_uint64(rlp_decode(bytes("0x00")).value()).error(), RlpError::kLeadingZero);
    EXPECT_EQ(rlp_to_uint64(rlp_decode(bytes("0x820004")).value()).error(), RlpError::kLeadingZero);
    EXPECT_EQ(rlp_to_uint64(rlp_decode(bytes("0x89010000000000000000")).value()).error(),
              RlpError::kIntegerOverflow);
    EXPECT_EQ(rlp_to_uint64(rlp_decode(bytes("0xc0")).value()).error(), RlpError::kExpectedString);

    const auto max = rlp_decode(rlp_encode_uint(Uint256::max())).value();
    EXPECT_EQ(rlp_to_uint256(max).value(), Uint256::max());
    const auto too_big = rlp_decode(bytes("0xa101" + std::string(64, '0'))).value();
    EXPECT_EQ(rlp_to_uint256(too_big).error(), RlpError::kIntegerOverflow);
}

// Random and mutated inputs: the decoder must never crash or read out of bounds (run under
// ASan to see the latter), and anything it accepts must be canonical, i.e. re-encode to itself.
TEST(RlpDecode, RandomInputNeverCrashesAndAcceptedInputIsCanonical) {
    const auto doc = load_vectors("rlp.json");
    std::vector<std::vector<uint8_t>> seeds;
    for (const auto& c : doc.at("valid").as_array()) {
        seeds.push_back(bytes(c.at("out").as_string()));
    }
    std::mt19937 rng(20240601);
    std::size_t accepted = 0;
    for (int round = 0; round < 100000; ++round) {
        std::vector<uint8_t> input;
        if (round % 2 == 0) {
            input.resize(rng() % 12);
            for (auto& b : input) {
                b = static_cast<uint8_t>(rng());
            }
        } else {
            input = seeds[rng() % seeds.size()];
            const int edits = 1 + static_cast<int>(rng() % 3);
            for (int e = 0; e < edits && !input.empty(); ++e) {
                switch (rng() % 3) {
                    case 0:
                        input[rng() % input.size()] = static_cast<uint8_t>(rng());
                        break;
                    case 1:
                        input.resize(rng() % input.size());
                        break;
                    default:
                        input.push_back(static_cast<uint8_t>(rng()));
                        break;
                }
            }
        }
        auto decoded = rlp_decode(input);
        if (decoded) {
            ++accepted;
            ASSERT_EQ(rlp_encode(*decoded), input) << to_hex(input);
        }
    }
    EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace forkrun::eth
