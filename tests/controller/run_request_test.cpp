// Tests for decoding a POST /v1/runs body into a new run: every problem at once with its pointer,
// what a valid body becomes, nulls refused but where the contract allows them, live runs held to
// their upstreams and signers, and the chains-per-run limit.
#include "controller/run_request.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>

#include "controller/field_error_print.hpp"

namespace forkrun::controller {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

RunRequestContext run_request_ctx() {
    RunRequestContext ctx;
    ctx.organization_id = "org_a";
    ctx.subject = "user_1";
    ctx.enabled_types = NodeTypeSet::all();
    return ctx;
}

/// The problems of `body`, none when it decodes.
FieldErrors run_request_errors(std::string_view body,
                               const RunRequestContext& ctx = run_request_ctx()) {
    auto r = decode_run_request(json::parse(body), ctx);
    return r ? FieldErrors{} : r.error();
}

constexpr const char* kRpcRun = R"({"workflowId": "wf.1", "workflowVersion": 3,
    "isSimulation": true, "triggerSource": "cron:nightly", "propValues": {"who": "me"},
    "workflowDefinition": {
        "inputSchema": [{"key": "who", "type": "string"}],
        "nodes": {"root": {"type": "manual", "children": ["b", "a"]},
                  "b": {"type": "rpc", "props": {"chainId": 8453, "method": "eth_chainId"}},
                  "a": {"type": "rpc", "props": {"chainId": 1, "method": "eth_chainId"}}}}})";

TEST(RunRequest, AValidBodyBecomesARunAndItsPlan) {
    auto r = decode_run_request(json::parse(kRpcRun), run_request_ctx());
    ASSERT_TRUE(r) << ::testing::PrintToString(r.error());
    const controller::Run& run = r->run;
    EXPECT_EQ(run.organization_id, "org_a");
    EXPECT_EQ(run.triggered_by, "user_1");
    EXPECT_EQ(run.workflow_id, "wf.1");
    EXPECT_EQ(run.workflow_version, 3);
    EXPECT_TRUE(run.is_simulation);
    EXPECT_FALSE(run.is_dust_test);
    EXPECT_EQ(run.simulation_mode, SimulationMode::kFork);  // the default of a simulation
    EXPECT_EQ(run.trigger_source, "cron:nightly");
    EXPECT_EQ(run.prop_values, json::parse(R"({"who": "me"})"));
    EXPECT_FALSE(run.source_run_id);
    // The chains its nodes name, in the definition's order; nodes root first then by id.
    EXPECT_THAT(run.chains, ElementsAre(8453u, 1u));
    EXPECT_THAT(r->plan.chains, ElementsAre(8453u, 1u));
    ASSERT_EQ(run.nodes.size(), 3u);
    EXPECT_EQ(run.nodes[0].id, "root");
    EXPECT_EQ(run.nodes[1].id, "a");
    EXPECT_EQ(run.nodes[2].id, "b");
    ASSERT_EQ(r->plan.nodes.size(), 3u);
    EXPECT_EQ(r->plan.nodes[1].type, NodeType::kRpc);
    // The stored definition gains the (empty) record of its block expansions.
    EXPECT_EQ(run.workflow_definition.at("blockExpansions"), json::object());
    EXPECT_EQ(run.workflow_definition.at("nodes").as_object().size(), 3u);
}

TEST(RunRequest, DefaultsOfAMinimalLiveRun) {
    auto r = decode_run_request(json::parse(R"({"workflowId": "w", "workflowVersion": 1,
        "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}})"),
                                run_request_ctx());
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->run.is_simulation);
    EXPECT_FALSE(r->run.simulation_mode);
    EXPECT_EQ(r->run.trigger_source, "api");
    EXPECT_TRUE(r->run.chains.empty());
    EXPECT_TRUE(r->run.prop_values.empty());
}

TEST(RunRequest, NotAnObjectIsOneProblemAtTheRoot) {
    for (const char* body : {"[]", "null", "1", R"("run")"}) {
        EXPECT_THAT(run_request_errors(body),
                    ElementsAre(FieldError{"", "the body must be a JSON object"}))
            << body;
    }
}

TEST(RunRequest, TheRequiredFieldsAreNamed) {
    EXPECT_THAT(run_request_errors("{}"),
                ElementsAre(FieldError{"/workflowId", "is required"},
                            FieldError{"/workflowVersion", "is required"},
                            FieldError{"/workflowDefinition", "is required"}));
}

TEST(RunRequest, EveryProblemOfABodyIsListedAtOnce) {
    EXPECT_THAT(
        run_request_errors(R"({"workflowId": "has space", "workflowVersion": 0, "extra": 1,
            "isSimulation": "yes", "isDustTest": 1, "simulationMode": "both",
            "triggerSource": "", "sourceRunId": 5, "chains": [0, 1, 1, "x", 1.5],
            "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}})"),
        ElementsAre(FieldError{"/extra", "unknown field \"extra\""},
                    FieldError{"/sourceRunId", "must be a string or null"},
                    FieldError{"/workflowId", "must be 1-128 characters of [A-Za-z0-9._:-]"},
                    FieldError{"/workflowVersion", "must be an integer >= 1"},
                    FieldError{"/isSimulation", "must be a boolean"},
                    FieldError{"/isDustTest", "must be a boolean"},
                    FieldError{"/simulationMode", "must be \"fork\", \"pool\" or null"},
                    FieldError{"/triggerSource", "must be 1-64 characters of [A-Za-z0-9._:-]"},
                    FieldError{"/chains/0", "must be a positive integer"},
                    FieldError{"/chains/2", "chain 1 twice"},
                    FieldError{"/chains/3", "must be a positive integer"},
                    FieldError{"/chains/4", "must be a positive integer"}));
}

TEST(RunRequest, NamesAndVersionsAtTheirBoundaries) {
    const auto with = [](const std::string& id, const std::string& version) {
        return run_request_errors(
            R"({"workflowId": ")" + id + R"(", "workflowVersion": )" + version +
            R"(, "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}})");
    };
    EXPECT_THAT(with(std::string(128, 'w'), "1"), IsEmpty());
    EXPECT_THAT(with("a.b_c:d-E9", "9223372036854775807"), IsEmpty());
    EXPECT_THAT(
        with(std::string(129, 'w'), "1"),
        ElementsAre(FieldError{"/workflowId", "must be 1-128 characters of [A-Za-z0-9._:-]"}));
    EXPECT_THAT(with("", "1"), ElementsAre(FieldError{
                                   "/workflowId", "must be 1-128 characters of [A-Za-z0-9._:-]"}));
    for (const char* bad : {"-1", "1.5", "\"1\"", "9223372036854775808"}) {
        EXPECT_THAT(with("w", bad),
                    ElementsAre(FieldError{"/workflowVersion", "must be an integer >= 1"}))
            << bad;
    }
}

TEST(RunRequest, OnlySourceRunIdAndSimulationModeMayBeNull) {
    EXPECT_THAT(
        run_request_errors(R"({"workflowId": "w", "workflowVersion": 1, "isSimulation": null,
            "isDustTest": null, "triggerSource": null, "propValues": null, "chains": null,
            "forkBlockNumbers": null, "keepForksOnFailure": null, "sourceRunId": null,
            "simulationMode": null,
            "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}})"),
        ElementsAre(FieldError{"/isSimulation", "must not be null (leave it out instead)"},
                    FieldError{"/isDustTest", "must not be null (leave it out instead)"},
                    FieldError{"/triggerSource", "must not be null (leave it out instead)"},
                    FieldError{"/propValues", "must not be null (leave it out instead)"},
                    FieldError{"/chains", "must not be null (leave it out instead)"},
                    FieldError{"/forkBlockNumbers", "must not be null (leave it out instead)"},
                    FieldError{"/keepForksOnFailure", "must not be null (leave it out instead)"}));
    EXPECT_THAT(run_request_errors(R"({"workflowId": "w", "workflowVersion": 1,
            "sourceRunId": null, "simulationMode": null,
            "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}})"),
                IsEmpty());
}

TEST(RunRequest, AnUnknownSourceRunIsNotFoundInTheOrganization) {
    EXPECT_THAT(run_request_errors(R"({"sourceRunId": "run_x"})"),
                ElementsAre(FieldError{"/sourceRunId", "no run \"run_x\" in your organization"},
                            FieldError{"/workflowId", "is required"},
                            FieldError{"/workflowVersion", "is required"},
                            FieldError{"/workflowDefinition", "is required"}));
}

TEST(RunRequest, ALiveRunNeedsAnUpstreamAndASignerForWhatItTouches) {
    constexpr const char* live = R"({"workflowId": "w", "workflowVersion": 1,
        "simulationMode": "pool",
        "workflowDefinition": {"nodes": {"root": {"type": "manual", "children": ["r", "t"]},
            "r": {"type": "rpc", "props": {"chainId": 8453, "method": "eth_chainId"}},
            "t": {"type": "transfer", "props": {"chainId": 1, "valueWei": "1",
                  "to": "0x00000000000000000000000000000000000000aa"}}}}})";
    // simulationMode is the only problem said while there is one: the reachability checks wait.
    EXPECT_THAT(
        run_request_errors(live),
        ElementsAre(FieldError{"/simulationMode", "must be absent or null for a live run"}));
    json::value body = json::parse(live);
    body.as_object().erase("simulationMode");
    RunRequestContext ctx = run_request_ctx();
    ctx.has_upstream = [](std::uint64_t chain) { return chain == 1; };
    auto r = decode_run_request(body, ctx);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error(),
                ElementsAre(FieldError{"/workflowDefinition/nodes/r/props/chainId",
                                       "chain 8453 has no configured upstream RPC, so a live run "
                                       "cannot use it"},
                            FieldError{"/workflowDefinition/nodes/t",
                                       "no signer \"default\" is configured; a live run cannot "
                                       "move value without one"}));
    // A simulation forks any chain and signs with the dev key.
    body.as_object()["isSimulation"] = true;
    EXPECT_TRUE(decode_run_request(body, run_request_ctx()));
}

TEST(ChainsPerRun, MoreChainsThanTheLimitIsOneProblemAtChains) {
    RunRequestContext ctx;
    ctx.organization_id = "org_a";
    ctx.enabled_types = NodeTypeSet::all();
    ctx.max_chains = 2;
    auto body = json::parse(R"({"workflowId": "wf", "workflowVersion": 1, "isSimulation": true,
        "chains": [1, 2, 3, "x", 0],
        "workflowDefinition": {"nodes": {"root": {"type": "manual"}}}})");
    auto r = decode_run_request(body, ctx);
    ASSERT_FALSE(r);
    ASSERT_EQ(r.error().size(), 1u);
    EXPECT_EQ(r.error()[0].path, "/chains");
    EXPECT_EQ(r.error()[0].message, "names 5 chains; a run may have at most 2 (maxChainsPerRun)");

    body.as_object()["chains"] = json::array{1, 2};
    EXPECT_TRUE(decode_run_request(body, ctx));

    // Chains taken from the nodes are held to the same limit.
    body.as_object().erase("chains");
    body.as_object()["workflowDefinition"] = json::parse(R"({"nodes": {
        "root": {"type": "manual", "children": ["a", "b", "c"]},
        "a": {"type": "rpc", "props": {"chainId": 1, "method": "eth_chainId", "params": []}},
        "b": {"type": "rpc", "props": {"chainId": 2, "method": "eth_chainId", "params": []}},
        "c": {"type": "rpc", "props": {"chainId": 3, "method": "eth_chainId", "params": []}}}})");
    r = decode_run_request(body, ctx);
    ASSERT_FALSE(r);
    ASSERT_EQ(r.error().size(), 1u);
    EXPECT_EQ(r.error()[0].path, "/chains");
    EXPECT_EQ(r.error()[0].message,
              "the nodes name 3 chains; a run may have at most 2 (maxChainsPerRun)");
}

}  // namespace
}  // namespace forkrun::controller
