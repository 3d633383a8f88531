// Tests for revert data decoding: Error(string), the Solidity panic codes, and custom errors.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "controller/revert_reason.hpp"
#include "forks/eth/hex.hpp"

namespace forkrun::controller {
namespace {

std::vector<std::uint8_t> revert_bytes(std::string_view hex) {
    return *eth::from_hex(hex);
}

TEST(RevertReason, ErrorStringIsDecodedToItsText) {
    const auto d = decode_revert(
        revert_bytes("0x08c379a0"
                     "0000000000000000000000000000000000000000000000000000000000000020"
                     "000000000000000000000000000000000000000000000000000000000000000a"
                     "6e6f7420656e6f75676800000000000000000000000000000000000000000000"));
    EXPECT_EQ(d.at("kind"), "error");
    EXPECT_EQ(d.at("message"), "not enough");
    EXPECT_EQ(describe_revert(d), "Error(\"not enough\")");
}

TEST(RevertReason, PanicCodesHaveTheirMeaning) {
    const std::pair<const char*, const char*> cases[] = {
        {"01", "assertion failed"},
        {"11", "arithmetic overflow or underflow"},
        {"12", "division or modulo by zero"},
        {"21", "conversion to an invalid enum value"},
        {"22", "access to an incorrectly encoded storage byte array"},
        {"31", "pop on an empty array"},
        {"32", "array index out of bounds"},
        {"41", "too much memory allocated"},
        {"51", "call to a zero-initialized function variable"},
        {"99", "unknown panic code"}};
    for (const auto& [code, meaning] : cases) {
        const auto d = decode_revert(revert_bytes("0x4e487b71" + std::string(62, '0') + code));
        EXPECT_EQ(d.at("kind"), "panic");
        EXPECT_EQ(d.at("code").as_string(), "0x" + std::string(code[0] == '0' ? code + 1 : code));
        EXPECT_EQ(d.at("meaning"), meaning) << code;
    }
}

TEST(RevertReason, AnythingElseIsItsSelectorAndData) {
    auto d = decode_revert(revert_bytes("0xdeadbeef0102"));
    EXPECT_EQ(d.at("kind"), "custom");
    EXPECT_EQ(d.at("selector"), "0xdeadbeef");
    EXPECT_EQ(d.at("data"), "0x0102");
    EXPECT_EQ(describe_revert(d), "custom error 0xdeadbeef");
    // A bare revert(), and an Error(string) whose length runs past its data.
    d = decode_revert({});
    EXPECT_TRUE(d.at("selector").is_null());
    EXPECT_EQ(describe_revert(d), "no revert data");
    d = decode_revert(
        revert_bytes("0x08c379a0" + std::string(62, '0') + "20" + std::string(62, '0') + "ff"));
    EXPECT_EQ(d.at("kind"), "custom");
}

}  // namespace
}  // namespace forkrun::controller
