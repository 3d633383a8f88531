// POST /v1/runs: the Run object it answers with, and validation that reports every problem.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

class ApiCreateTest : public ApiSharedServerTest {};

std::set<std::string> keys_of(const json::value& v) {
    std::set<std::string> keys;
    if (v.is_object()) {
        for (const auto& [k, _] : v.get_object()) {
            keys.insert(std::string(k));
        }
    }
    return keys;
}

std::string dump(const json::array& errors) {
    return json::serialize(errors);
}

TEST_F(ApiCreateTest, CreatedRunHasEveryKeyWithItsType) {
    const std::string workflow_id = unique_workflow_id("shape");
    const std::int64_t before = now_ms();
    HttpResponse r = api().create(quick_run(workflow_id));
    ASSERT_EQ(r.status, 201) << r.body;
    const json::object& run = data_of(r);
    ASSERT_TRUE(is_run(run));

    EXPECT_EQ(str_at(run, "organizationId"), kOrgA);
    EXPECT_EQ(str_at(run, "workflowId"), workflow_id);
    EXPECT_EQ(run.at("workflowVersion"), json::value(1));
    EXPECT_EQ(run.at("propValues"), json::object{});
    EXPECT_EQ(run.at("isSimulation"), json::value(false));
    EXPECT_EQ(run.at("isDustTest"), json::value(false));
    EXPECT_TRUE(run.at("simulationMode").is_null());
    EXPECT_TRUE(run.at("simulationForks").as_array().empty());
    EXPECT_TRUE(run.at("sourceRunId").is_null());
    EXPECT_EQ(number_of(run.at("totalCu")), 0.0);
    EXPECT_EQ(str_at(run, "triggerSource"), "api");
    EXPECT_EQ(str_at(run, "triggeredBy"), kSubjectA);
    const std::int64_t started = timestamp_ms(run.at("startedAt"));
    EXPECT_GE(started, before - 60000) << run.at("startedAt");
    EXPECT_LE(started, now_ms() + 60000) << run.at("startedAt");

    const auto& definition = run.at("workflowDefinition").as_object();
    EXPECT_EQ(keys_of(definition.at("nodes")), (std::set<std::string>{"root", "a"}));
    const auto& state = run.at("executionState").as_object();
    EXPECT_TRUE(state.at("forks").as_object().empty());
    EXPECT_TRUE(state.at("cancellation").is_null());

    // GET answers with the same run.
    HttpResponse got = api().run(str_at(run, "id"));
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_TRUE(is_run(data_of(got)));
    EXPECT_EQ(str_at(data_of(got), "id"), str_at(run, "id"));
    EXPECT_EQ(data_of(got).at("startedAt"), run.at("startedAt"));
}

TEST_F(ApiCreateTest, SnapshotCarriesBlockExpansions) {
    // The seed's Run has workflowDefinition.blockExpansions (an object, "set on run snapshots");
    // a run without block nodes has none to record: {}.
    const std::string workflow_id = unique_workflow_id("expansions");
    HttpResponse created = api().create(quick_run(workflow_id));
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = str_at(data_of(created), "id");
    HttpResponse got = api().run(id);
    HttpResponse listed = api().get("/v1/runs?view=full&workflowId=" + workflow_id);
    const json::value from_list = value_at(data_of(listed), "/runs/0");
    for (const auto& [what, run] : std::vector<std::pair<std::string, json::value>>{
             {"POST", data_of(created)}, {"GET", data_of(got)}, {"list view=full", from_list}}) {
        const json::value expansions =
            run.is_object() ? value_at(run.get_object(), "/workflowDefinition/blockExpansions")
                            : json::value(nullptr);
        EXPECT_TRUE(expansions.is_object()) << what << ": " << json::serialize(run);
        if (expansions.is_object()) {
            EXPECT_TRUE(expansions.get_object().empty()) << what;
        }
    }
}

TEST_F(ApiCreateTest, LocationHeaderNamesTheNewRun) {
    HttpResponse r = api().create(quick_run(unique_workflow_id("location")));
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id = str_at(data_of(r), "id");
    const std::string location = r.header("Location");
    EXPECT_TRUE(location.ends_with("/v1/runs/" + id)) << "Location: '" << location << "'";
    const auto path = location.find("/v1/runs/");
    ASSERT_NE(path, std::string::npos);
    HttpResponse got = api().get(location.substr(path));
    EXPECT_EQ(got.status, 200) << got.body;
}

TEST_F(ApiCreateTest, IdsAreUrlSafeUnguessableAndUnique) {
    std::set<std::string> ids;
    for (int i = 0; i < 40; ++i) {
        const json::object run = api().create_ok(quick_run(unique_workflow_id("ids")));
        ASSERT_FALSE(run.empty());
        const std::string id = str_at(run, "id");
        EXPECT_TRUE(is_run_id(id));
        EXPECT_TRUE(ids.insert(id).second) << "id " << id << " handed out twice";
    }
}

TEST_F(ApiCreateTest, RequestFieldsAreKept) {
    const std::string workflow_id = unique_workflow_id("fields");
    json::array schema{
        json::object{
            {"key", "s"}, {"type", "string"}, {"required", true}, {"description", "a string"}},
        json::object{{"key", "n"}, {"type", "number"}, {"required", true}},
        json::object{{"key", "b"}, {"type", "boolean"}},
        json::object{{"key", "o"}, {"type", "object"}},
        json::object{{"key", "l"}, {"type", "array"}},
    };
    json::object values{{"s", "hello"},
                        {"n", 2.5},
                        {"b", true},
                        {"o", json::object{{"k", 1}}},
                        {"l", json::array{1, "two"}}};
    json::object body = run_request(workflow_id, json::object{{"root", root()}}, schema, values);
    body["workflowVersion"] = 7;
    body["triggerSource"] = "dashboard";
    body["isDustTest"] = true;
    const json::object run = api().create_ok(body);
    ASSERT_FALSE(run.empty());
    EXPECT_TRUE(is_run(run));
    EXPECT_EQ(run.at("workflowVersion"), json::value(7));
    EXPECT_EQ(str_at(run, "triggerSource"), "dashboard");
    EXPECT_EQ(run.at("isDustTest"), json::value(true));
    EXPECT_EQ(run.at("propValues"), values);
    EXPECT_EQ(run.at("workflowDefinition").at("inputSchema").as_array().size(), 5u);
}

TEST_F(ApiCreateTest, OneResponseListsEveryProblem) {
    json::object body{
        // workflowId missing
        {"workflowVersion", 0},
        {"workflowDefinition",
         json::object{
             {"nodes",
              json::object{
                  {"root", root({"a", "ghost", "w"})},             // ghost: no such node
                  {"a", node("teleport")},                         // unknown type
                  {"w", node("wait", {}, {{"seconds", "soon"}})},  // seconds not a number
              }},
             {"inputSchema",
              json::array{json::object{{"key", "x"}, {"type", "string"}, {"required", true}}}},
             {"blockExpansions", json::object{}},  // never accepted from a client
         }},
        {"propValues", json::object{{"extra", 1}}},  // x missing, extra undeclared
        {"isDustTest", "yes"},
    };
    HttpResponse r = api().create(body);
    ASSERT_EQ(r.status, 400) << r.body;
    ASSERT_TRUE(are_validation_errors(r));
    const json::array errors = errors_of(r);
    EXPECT_GE(errors.size(), 9u) << dump(errors);
    EXPECT_TRUE(has_error_about(errors, "", "workflowId")) << dump(errors);
    EXPECT_TRUE(has_error_at(errors, "/workflowVersion")) << dump(errors);
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/root")) << dump(errors);
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/a")) << dump(errors);
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/w")) << dump(errors);
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/blockExpansions")) << dump(errors);
    EXPECT_TRUE(has_error_about(errors, "/propValues", "x")) << dump(errors);
    EXPECT_TRUE(has_error_at(errors, "/propValues/extra")) << dump(errors);
    EXPECT_TRUE(has_error_at(errors, "/isDustTest")) << dump(errors);
}

// Found by fuzz_rpc_response: Boost.JSON reads a number beyond a double's range as infinity and
// writes it back as `Infinity`, which is not JSON; a run created with one answered its 201 (and
// every later GET) with a body no client could parse. Such a number is now refused where it is.
TEST_F(ApiCreateTest, NumberBeyondDoubleRangeIsRefusedWithItsPointer) {
    std::string body = json::serialize(quick_run(unique_workflow_id("huge")));
    const std::string equals = "\"equals\":\"1\"";
    ASSERT_NE(body.find(equals), std::string::npos) << body;
    body.replace(body.find(equals), equals.size(), "\"equals\":-1e400");
    HttpRequest request = make_request("POST", "/v1/runs", body);
    request.headers.emplace_back("Content-Type", "application/json");
    request.headers.emplace_back("Authorization", "Bearer " + std::string(kTokenARw));
    HttpResponse r = api().send(std::move(request));
    ASSERT_EQ(r.status, 400) << r.body;
    ASSERT_TRUE(are_validation_errors(r));
    EXPECT_TRUE(has_error_at(errors_of(r), "/workflowDefinition/nodes/a/props/equals")) << r.body;
}

TEST_F(ApiCreateTest, EmptyBodyReportsEachRequiredField) {
    HttpResponse r = api().create(json::object{});
    ASSERT_EQ(r.status, 400) << r.body;
    ASSERT_TRUE(are_validation_errors(r));
    const json::array errors = errors_of(r);
    EXPECT_TRUE(has_error_about(errors, "", "workflowId")) << dump(errors);
    EXPECT_TRUE(has_error_about(errors, "", "workflowVersion")) << dump(errors);
    EXPECT_TRUE(has_error_about(errors, "", "workflowDefinition")) << dump(errors);
}

TEST_F(ApiCreateTest, WorkflowVersionMustBeAnIntegerOfAtLeastOne) {
    for (const json::value& version : {json::value(0), json::value(-1), json::value(1.5),
                                       json::value("1"), json::value(nullptr)}) {
        json::object body = quick_run(unique_workflow_id("version"));
        body["workflowVersion"] = version;
        HttpResponse r = api().create(body);
        EXPECT_EQ(r.status, 400) << json::serialize(version) << ": " << r.body;
        EXPECT_TRUE(has_error_at(errors_of(r), "/workflowVersion")) << r.body;
    }
}

TEST_F(ApiCreateTest, GraphRulesAreEnforced) {
    struct Case {
        std::string what;
        json::value nodes;
    };
    const std::string long_id(65, 'n');
    const std::vector<Case> cases{
        {"no root", json::object{{"a", assert_node("1", "equals", "1")}}},
        {"root is not manual", json::object{{"root", wait_node(0.1)}}},
        {"child that is not a node", json::object{{"root", root({"ghost"})}}},
        {"cycle", json::object{{"root", root({"a"})},
                               {"a", assert_node("1", "equals", "1", {"b"})},
                               {"b", assert_node("1", "equals", "1", {"a"})}}},
        {"unreachable node",
         json::object{{"root", root()}, {"z", assert_node("1", "equals", "1")}}},
        {"node id with a space",
         json::object{{"root", root({"bad id"})}, {"bad id", assert_node("1", "equals", "1")}}},
        {"node id with a dot",
         json::object{{"root", root({"a.b"})}, {"a.b", assert_node("1", "equals", "1")}}},
        {"node id of 65 chars",
         json::object{{"root", root({long_id})}, {long_id, assert_node("1", "equals", "1")}}},
        {"unknown type", json::object{{"root", root({"t"})}, {"t", node("teleport")}}},
        {"second manual node", json::object{{"root", root({"m"})}, {"m", node("manual")}}},
        {"nodes is an array", json::array{json::object{{"type", "manual"}}}},
        {"children is not an array",
         json::object{{"root", json::object{{"type", "manual"}, {"children", "a"}}},
                      {"a", assert_node("1", "equals", "1")}}},
        {"wait seconds not a number",
         json::object{{"root", root({"w"})}, {"w", node("wait", {}, {{"seconds", "soon"}})}}},
        {"wait without props", json::object{{"root", root({"w"})}, {"w", node("wait")}}},
        {"assert without comparator",
         json::object{{"root", root({"a"})}, {"a", node("assert", {}, {{"value", "1"}})}}},
        {"assert without value",
         json::object{{"root", root({"a"})}, {"a", node("assert", {}, {{"equals", "1"}})}}},
        {"type missing", json::object{{"root", root({"a"})}, {"a", json::object{}}}},
    };
    for (const Case& c : cases) {
        json::object body = quick_run(unique_workflow_id("graph"));
        body["workflowDefinition"].as_object()["nodes"] = c.nodes;
        HttpResponse r = api().create(body);
        EXPECT_EQ(r.status, 400) << c.what << ": " << r.body;
        EXPECT_TRUE(are_validation_errors(r)) << c.what;
        EXPECT_TRUE(has_error_at(errors_of(r), "/workflowDefinition")) << c.what << ": " << r.body;
    }
}

TEST_F(ApiCreateTest, ClientSuppliedBlockExpansionsAreRejected) {
    json::object body = quick_run(unique_workflow_id("expansions"));
    body["workflowDefinition"].as_object()["blockExpansions"] =
        json::object{{"a", json::object{{"blockId", "x"}, {"nodes", json::object{}}}}};
    HttpResponse r = api().create(body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(has_error_at(errors_of(r), "/workflowDefinition/blockExpansions")) << r.body;
}

TEST_F(ApiCreateTest, NodeIdsUpTo64SafeCharactersAreAccepted) {
    const std::string longest(64, 'N');
    const json::object nodes{{"root", root({longest, "a-b_C9"})},
                             {longest, assert_node("1", "equals", "1")},
                             {"a-b_C9", assert_node("1", "equals", "1")}};
    const json::object run = api().create_ok(run_request(unique_workflow_id("ids"), nodes));
    EXPECT_FALSE(run.empty());
}

TEST_F(ApiCreateTest, PropValuesAreCheckedAgainstInputSchema) {
    const json::array schema{
        json::object{{"key", "x"}, {"type", "string"}, {"required", true}},
        json::object{{"key", "n"}, {"type", "number"}},
        json::object{{"key", "b"}, {"type", "boolean"}},
        json::object{{"key", "o"}, {"type", "object"}},
        json::object{{"key", "l"}, {"type", "array"}},
    };
    const json::object wrong{
        {"n", "1"}, {"b", "true"}, {"o", json::array{}}, {"l", json::object{}}, {"extra", 1}};
    HttpResponse r = api().create(
        run_request(unique_workflow_id("props"), json::object{{"root", root()}}, schema, wrong));
    ASSERT_EQ(r.status, 400) << r.body;
    ASSERT_TRUE(are_validation_errors(r));
    const json::array errors = errors_of(r);
    EXPECT_GE(errors.size(), 6u) << dump(errors);
    for (const std::string key : {"x", "n", "b", "o", "l", "extra"}) {
        EXPECT_TRUE(has_error_about(errors, "/propValues", key)) << key << ": " << dump(errors);
    }

    // Right types, optional ones left out: accepted.
    const json::object right{{"x", "s"}, {"n", 3}};
    const json::object run = api().create_ok(
        run_request(unique_workflow_id("props"), json::object{{"root", root()}}, schema, right));
    ASSERT_FALSE(run.empty());
    EXPECT_EQ(run.at("propValues"), right);
}

TEST_F(ApiCreateTest, TopLevelFieldsOfTheWrongTypeAreEachReported) {
    json::object body = quick_run(unique_workflow_id("types"));
    body["workflowId"] = 12;
    body["isSimulation"] = "no";
    body["isDustTest"] = 1;
    body["triggerSource"] = json::array{};
    body["propValues"] = json::array{};
    HttpResponse r = api().create(body);
    ASSERT_EQ(r.status, 400) << r.body;
    const json::array errors = errors_of(r);
    for (const std::string pointer :
         {"/workflowId", "/isSimulation", "/isDustTest", "/triggerSource", "/propValues"}) {
        EXPECT_TRUE(has_error_at(errors, pointer)) << pointer << ": " << dump(errors);
    }
}

TEST_F(ApiCreateTest, SimulationModeMustBeAbsentForLiveRuns) {
    json::object body = quick_run(unique_workflow_id("mode"));
    body["simulationMode"] = "fork";
    HttpResponse r = api().create(body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(has_error_at(errors_of(r), "/simulationMode")) << r.body;

    body["simulationMode"] = nullptr;
    body["workflowId"] = unique_workflow_id("mode");
    EXPECT_EQ(api().create(body).status, 201);
}

TEST_F(ApiCreateTest, SourceRunIdFillsInWhatIsMissing) {
    const std::string workflow_id = unique_workflow_id("source");
    json::object first_body = quick_run(workflow_id);
    first_body["workflowVersion"] = 3;
    const json::object first = api().create_ok(first_body);
    ASSERT_FALSE(first.empty());
    const std::string first_id = str_at(first, "id");

    const json::object rerun = api().create_ok(json::object{{"sourceRunId", first_id}});
    ASSERT_FALSE(rerun.empty());
    EXPECT_TRUE(is_run(rerun));
    EXPECT_NE(str_at(rerun, "id"), first_id);
    EXPECT_EQ(str_at(rerun, "sourceRunId"), first_id);
    EXPECT_EQ(str_at(rerun, "workflowId"), workflow_id);
    EXPECT_EQ(rerun.at("workflowVersion"), json::value(3));
    EXPECT_EQ(rerun.at("workflowDefinition").at("nodes"),
              first.at("workflowDefinition").at("nodes"));

    // What is given wins.
    const json::object bumped =
        api().create_ok(json::object{{"sourceRunId", first_id}, {"workflowVersion", 4}});
    ASSERT_FALSE(bumped.empty());
    EXPECT_EQ(bumped.at("workflowVersion"), json::value(4));
    EXPECT_EQ(str_at(bumped, "workflowId"), workflow_id);
}

TEST_F(ApiCreateTest, SourceRunIdOfNoRunCopiesNothing) {
    HttpResponse r = api().create(json::object{{"sourceRunId", std::string(22, 'S')}});
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(are_validation_errors(r));
}

TEST_F(ApiCreateTest, LiveRunOfBuiltInNodesNeedsNoChainAndCostsNoCu) {
    const json::object run = api().create_ok(quick_run(unique_workflow_id("cu")));
    ASSERT_FALSE(run.empty());
    const json::object done = api().wait_terminal(str_at(run, "id"));
    ASSERT_TRUE(is_run(done));
    EXPECT_EQ(str_at(done, "status"), "success") << json::serialize(done);
    EXPECT_EQ(number_of(done.at("totalCu")), 0.0);
    for (const std::string id : {"root", "a"}) {
        const json::object n = node_state(done, id);
        ASSERT_TRUE(n.contains("cu")) << id;
        EXPECT_EQ(number_of(n.at("cu")), 0.0) << id;
    }
}

}  // namespace
}  // namespace forkrun::http::test

namespace forkrun::http::test {
namespace {

// Only sourceRunId and simulationMode may be null: any other null is a 400 at its pointer, and
// nothing is stored against the contract's types.
TEST(ApiCreateNulls, ANullWhereTheTypeAllowsNoneIsA400AtItsPointer) {
    ServerProcess server;
    Api api(server.base_url());
    for (const char* key :
         {"triggerSource", "propValues", "isSimulation", "isDustTest", "chains"}) {
        json::object body = quick_run(unique_workflow_id("nulls"));
        body[key] = nullptr;
        HttpResponse r = api.create(body);
        EXPECT_EQ(r.status, 400) << key << ": " << r.body;
        EXPECT_TRUE(has_error_at(errors_of(r), "/" + std::string(key))) << r.body;
    }
    json::object body = quick_run(unique_workflow_id("nulls"));
    auto& def = body["workflowDefinition"].as_object();
    def["inputSchema"] = nullptr;
    def["nodes"].as_object()["root"].as_object()["props"] = nullptr;
    def["nodes"].as_object()["a"].as_object()["children"] = nullptr;
    HttpResponse r = api.create(body);
    EXPECT_EQ(r.status, 400) << r.body;
    const auto errors = errors_of(r);
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/inputSchema")) << r.body;
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/root/props")) << r.body;
    EXPECT_TRUE(has_error_at(errors, "/workflowDefinition/nodes/a/children")) << r.body;

    json::object ok = quick_run(unique_workflow_id("nulls"));
    ok["sourceRunId"] = nullptr;
    ok["simulationMode"] = nullptr;
    EXPECT_EQ(api.create(ok).status, 201);
}

}  // namespace
}  // namespace forkrun::http::test
