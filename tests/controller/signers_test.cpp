// Tests for the configured signing keys: read from an environment variable or a file, found by
// name (the default when none is named), and every problem named without ever showing a key.
#include "controller/signers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// anvil's development keys #0 and #1: public knowledge.
constexpr const char* kSignersKey0 =
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
constexpr const char* kSignersKey1 =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

TEST(Signers, KeysComeFromTheEnvironmentOrAFileByName) {
    ::setenv("SIGNERS_TEST_KEY_0", kSignersKey0, 1);
    const auto file = std::filesystem::temp_directory_path() /
                      ("forkrun-signers-test-" + std::to_string(::getpid()));
    std::ofstream(file) << kSignersKey1 << "\r\n  \n";
    Signers signers;
    std::vector<std::string> problems;
    signers.read_config(json::parse(R"({"signers": {
        "default": {"privateKeyEnv": "SIGNERS_TEST_KEY_0"},
        "treasury": {"privateKeyFile": ")" +
                                    file.string() + R"("}}})"),
                        problems);
    ::unsetenv("SIGNERS_TEST_KEY_0");
    std::filesystem::remove(file);
    EXPECT_THAT(problems, IsEmpty());
    ASSERT_NE(signers.find("default"), nullptr);
    EXPECT_EQ(signers.find("default")->address(), Signers::simulation_default().address());
    EXPECT_EQ(signers.find(""), signers.find("default")) << "no name is the default";
    ASSERT_NE(signers.find("treasury"), nullptr);
    EXPECT_EQ(signers.find("treasury")->address().to_lower_hex(),
              "0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
    EXPECT_EQ(signers.find("Treasury"), nullptr);
    EXPECT_FALSE(signers.empty());
}

TEST(Signers, EveryProblemNamesTheSignerAndNeverTheKey) {
    ::setenv("SIGNERS_TEST_BAD_KEY", "0x1234", 1);
    Signers signers;
    std::vector<std::string> problems;
    signers.read_config(json::parse(R"({"signers": {
        "a": {"privateKeyEnv": "SIGNERS_TEST_UNSET"},
        "b": {"privateKeyFile": "/nonexistent/forkrun/key"},
        "c": {},
        "d": "0xac09",
        "e": {"privateKeyEnv": "SIGNERS_TEST_BAD_KEY"},
        "f": {"privateKeyEnv": 5}}})"),
                        problems);
    ::unsetenv("SIGNERS_TEST_BAD_KEY");
    EXPECT_THAT(problems,
                ElementsAre("signers.a: the environment variable SIGNERS_TEST_UNSET is not set",
                            "signers.b: cannot read /nonexistent/forkrun/key",
                            "signers.c needs privateKeyEnv or privateKeyFile",
                            "signers.d needs privateKeyEnv or privateKeyFile",
                            "signers.e: not a valid secp256k1 private key (32 bytes of hex)",
                            "signers.f needs privateKeyEnv or privateKeyFile"));
    for (const auto& problem : problems) {
        EXPECT_EQ(problem.find("1234"), std::string::npos) << problem;
        EXPECT_EQ(problem.find("ac09"), std::string::npos) << problem;
    }
    EXPECT_TRUE(signers.empty());
    EXPECT_EQ(signers.find(Signers::kDefault), nullptr);
}

TEST(Signers, NoSignersIsNoProblemButAnythingElseThanAnObjectIs) {
    Signers signers;
    std::vector<std::string> problems;
    signers.read_config(json::parse("{}"), problems);
    signers.read_config(json::parse("[]"), problems);
    EXPECT_THAT(problems, IsEmpty());
    signers.read_config(json::parse(R"({"signers": ["default"]})"), problems);
    EXPECT_THAT(problems, ElementsAre("signers must be an object keyed by signer name"));
    EXPECT_TRUE(signers.empty());
}

}  // namespace
}  // namespace forkrun::controller
