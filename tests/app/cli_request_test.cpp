// Tests for the body of `forkrun runs create`: a bare definition wrapped, the API's body kept,
// each flag applied over the file, --prop values typed by inputSchema, and every bad flag named.
#include "app/cli_request.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <boost/json/parse.hpp>

namespace forkrun::app {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr const char* kCliDefinition = R"({"nodes": {"root": {"type": "manual"}},
    "inputSchema": [{"key": "who", "type": "string"}, {"key": "n", "type": "number"},
                    {"key": "cfg", "type": "object"}]})";

TEST(CliRequest, ABareDefinitionIsWrappedUnderTheFilesName) {
    std::vector<std::string> problems;
    const auto body = create_body(json::parse(kCliDefinition), "transfer", {}, problems);
    ASSERT_TRUE(body);
    EXPECT_THAT(problems, IsEmpty());
    EXPECT_EQ(*body, json::object({{"workflowId", "transfer"},
                                   {"workflowVersion", 1},
                                   {"workflowDefinition", json::parse(kCliDefinition)},
                                   {"triggerSource", "cli"}}));
}

TEST(CliRequest, TheApisBodyIsKeptAndTheFlagsWin) {
    const json::value file = json::parse(R"({"workflowId": "wf", "workflowVersion": 2,
        "triggerSource": "ci", "propValues": {"who": "file", "n": 1},
        "workflowDefinition": )" + std::string(kCliDefinition) +
                                         "}");
    CreateFlags flags;
    flags.mode = "pool";
    flags.chains = "1,8453";
    flags.dust = true;
    flags.workflow_id = "other";
    flags.workflow_version = "7";
    flags.props = {"who=0x12", "n=42", "cfg={\"a\":[1]}", "free=true", "text=not json", "n=43"};
    std::vector<std::string> problems;
    const auto body = create_body(file, "ignored", flags, problems);
    ASSERT_TRUE(body) << ::testing::PrintToString(problems);
    EXPECT_EQ(body->at("workflowId"), "other");
    EXPECT_EQ(body->at("workflowVersion"), json::value(7));
    EXPECT_EQ(body->at("triggerSource"), "ci");
    EXPECT_EQ(body->at("isSimulation"), json::value(true));  // a mode is a simulation's
    EXPECT_EQ(body->at("simulationMode"), "pool");
    EXPECT_EQ(body->at("chains"), json::parse("[1, 8453]"));
    EXPECT_EQ(body->at("isDustTest"), json::value(true));
    // A declared string stays text; other declared types and undeclared keys are JSON where
    // they parse; the last of a repeated key wins.
    EXPECT_EQ(body->at("propValues"), json::parse(R"({"who": "0x12", "n": 43, "cfg": {"a": [1]},
        "free": true, "text": "not json"})"));
}

TEST(CliRequest, SimulateAloneSetsNoMode) {
    CreateFlags flags;
    flags.simulate = true;
    std::vector<std::string> problems;
    const auto body = create_body(json::parse(kCliDefinition), "w", flags, problems);
    ASSERT_TRUE(body);
    EXPECT_EQ(body->at("isSimulation"), json::value(true));
    EXPECT_FALSE(body->contains("simulationMode"));
    EXPECT_FALSE(body->contains("chains"));
    EXPECT_FALSE(body->contains("propValues"));
}

TEST(CliRequest, EveryBadFlagIsNamed) {
    CreateFlags flags;
    flags.workflow_version = "0";
    flags.mode = "both";
    flags.chains = "1,,x";
    flags.props = {"novalue", "=5", "n=forty", "cfg={"};
    std::vector<std::string> problems{"an earlier problem"};
    EXPECT_FALSE(create_body(json::parse(kCliDefinition), "w", flags, problems));
    EXPECT_THAT(
        problems,
        ElementsAre("an earlier problem", "--workflow-version wants an integer of at least 1",
                    "--mode wants fork or pool, not both",
                    "--chains wants chain ids like 1,8453, not 1,,x",
                    "--prop wants KEY=VALUE, not novalue", "--prop wants KEY=VALUE, not =5",
                    "--prop n: the input is declared number and forty is not JSON of that "
                    "type",
                    "--prop cfg: the input is declared object and { is not JSON of that "
                    "type"));
    for (const char* version : {"1.5", "-3", "x", "", "99999999999999999999"}) {
        CreateFlags v;
        v.workflow_version = version;
        std::vector<std::string> p;
        EXPECT_FALSE(create_body(json::parse(kCliDefinition), "w", v, p)) << version;
    }
    for (const char* chains : {"", "0", "1;2", " 1", "-1", "18446744073709551616"}) {
        CreateFlags c;
        c.chains = chains;
        std::vector<std::string> p;
        EXPECT_FALSE(create_body(json::parse(kCliDefinition), "w", c, p)) << chains;
        EXPECT_THAT(
            p, ElementsAre("--chains wants chain ids like 1,8453, not " + std::string(chains)));
    }
}

TEST(CliRequest, AFileThatIsNeitherBodyNorDefinitionIsRefused) {
    std::vector<std::string> problems;
    EXPECT_FALSE(create_body(json::parse("[1]"), "w", {}, problems));
    EXPECT_FALSE(create_body(json::parse(R"({"workflowId": "w"})"), "w", {}, problems));
    EXPECT_THAT(problems, ElementsAre("the workflow file must hold a JSON object",
                                      "the workflow file holds neither a POST /v1/runs body (with "
                                      "workflowDefinition) nor a workflowDefinition (with nodes)"));
    // A re-run's body names only its source.
    std::vector<std::string> none;
    const auto rerun = create_body(json::parse(R"({"sourceRunId": "run_1"})"), "w", {}, none);
    ASSERT_TRUE(rerun);
    EXPECT_EQ(*rerun, json::object({{"sourceRunId", "run_1"}, {"triggerSource", "cli"}}));
}

}  // namespace
}  // namespace forkrun::app
