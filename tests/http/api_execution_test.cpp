// Running workflows end to end: assert outcomes, templates, skipped nodes, terminal immutability.
#include <gtest/gtest.h>

#include <string>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

class ApiExecutionTest : public ApiSharedServerTest {
  protected:
    /// Creates the run and waits for it to finish; {} (and a recorded failure) otherwise.
    json::object run_to_end(const json::object& body) const {
        const json::object run = api().create_ok(body);
        if (run.empty()) {
            return {};
        }
        json::object done = api().wait_terminal(str_at(run, "id"));
        EXPECT_TRUE(is_run(done));
        return done;
    }

    static json::value output_of(const json::object& run, std::string_view node_id) {
        const json::object n = node_state(run, node_id);
        return n.contains("output") ? n.at("output") : json::value(json::string("<absent>"));
    }
};

json::array schema_of(std::initializer_list<std::pair<const char*, const char*>> keys) {
    json::array schema;
    for (const auto& [key, type] : keys) {
        schema.push_back(json::object{{"key", key}, {"type", type}, {"required", true}});
    }
    return schema;
}

TEST_F(ApiExecutionTest, PassingAssertSucceedsWithNodeOutputs) {
    const std::int64_t before = now_ms();
    const json::object done = run_to_end(
        run_request(unique_workflow_id("pass"),
                    json::object{{"root", root({"a"})}, {"a", assert_node("5", "equals", "5")}}));
    ASSERT_FALSE(done.empty());
    EXPECT_EQ(str_at(done, "status"), "success") << json::serialize(done);
    EXPECT_GE(timestamp_ms(done.at("finishedAt")), timestamp_ms(done.at("startedAt")));
    EXPECT_GE(timestamp_ms(done.at("finishedAt")), before - 60000);
    EXPECT_EQ(number_of(done.at("totalCu")), 0.0);
    EXPECT_TRUE(done.at("executionState").at("error").is_null());
    EXPECT_TRUE(done.at("executionState").at("cancellation").is_null());

    EXPECT_EQ(node_status(done, "root"), "success");
    EXPECT_TRUE(output_of(done, "root").is_null()) << "a manual node outputs null";
    EXPECT_EQ(node_status(done, "a"), "success");
    const json::value out = output_of(done, "a");
    ASSERT_TRUE(out.is_object()) << out;
    EXPECT_EQ(out.get_object().at("value"), json::value("5"));
    const json::object a = node_state(done, "a");
    EXPECT_TRUE(is_timestamp(a.at("startedAt")));
    EXPECT_TRUE(is_timestamp(a.at("finishedAt")));
    EXPECT_TRUE(a.at("error").is_null());
}

TEST_F(ApiExecutionTest, FailingAssertFailsTheRunAndSkipsWhatFollows) {
    const json::object done = run_to_end(run_request(
        unique_workflow_id("fail"), json::object{{"root", root({"a"})},
                                                 {"a", assert_node("1", "equals", "2", {"b"})},
                                                 {"b", wait_node(0, {"c"})},
                                                 {"c", assert_node("1", "equals", "1")}}));
    ASSERT_FALSE(done.empty());
    EXPECT_EQ(str_at(done, "status"), "failure") << json::serialize(done);
    EXPECT_TRUE(is_timestamp(done.at("finishedAt")));

    EXPECT_EQ(node_status(done, "a"), "failure");
    const json::value node_error = value_at(done, "/executionState/nodes/a/error");
    ASSERT_TRUE(node_error.is_object()) << node_error;
    EXPECT_FALSE(str_at(node_error.get_object(), "code").empty()) << node_error;
    EXPECT_FALSE(str_at(node_error.get_object(), "message").empty()) << node_error;

    const json::value& run_error = done.at("executionState").at("error");
    ASSERT_TRUE(run_error.is_object()) << run_error;
    EXPECT_EQ(str_at(run_error.get_object(), "nodeId"), "a") << run_error;
    EXPECT_FALSE(str_at(run_error.get_object(), "message").empty()) << run_error;

    EXPECT_EQ(node_status(done, "b"), "skipped");
    EXPECT_EQ(node_status(done, "c"), "skipped");
    EXPECT_TRUE(done.at("executionState").at("cancellation").is_null());
}

TEST_F(ApiExecutionTest, ComparisonsTreatNumbersAsIntegers) {
    const json::object nodes{
        {"root", root({"hex", "gte", "lte", "ne", "str"})},
        {"hex", assert_node("0x10", "equals", "16")},
        {"gte", assert_node("10", "gte", "9")},
        {"lte", assert_node("0xff", "lte", "255")},
        {"ne", assert_node("abc", "notEquals", "abd")},
        {"str", assert_node("abc", "equals", "abc")},
    };
    const json::object done = run_to_end(run_request(unique_workflow_id("cmp"), nodes));
    ASSERT_FALSE(done.empty());
    EXPECT_EQ(str_at(done, "status"), "success") << json::serialize(done.at("executionState"));
    for (const char* id : {"hex", "gte", "lte", "ne", "str"}) {
        EXPECT_EQ(node_status(done, id), "success") << id;
    }

    const json::object failing = run_to_end(
        run_request(unique_workflow_id("cmp"),
                    json::object{{"root", root({"a"})}, {"a", assert_node("9", "gte", "10")}}));
    ASSERT_FALSE(failing.empty());
    EXPECT_EQ(str_at(failing, "status"), "failure");
}

TEST_F(ApiExecutionTest, TemplatesCarryPropsAndNodeOutputs) {
    const json::object nodes{
        {"root", root({"a"})},
        {"a", assert_node("{{props.x}}", "equals", "hello", {"b"})},
        {"b", assert_node("{{nodes.a.output.value}}", "equals", "hello", {"c"})},
        {"c", assert_node("got-{{props.x}}-{{nodes.a.output.value}}", "equals", "got-hello-hello",
                          {"d"})},
        {"d", assert_node("{{props.n}}", "gte", 3)},
    };
    const json::object done = run_to_end(run_request(unique_workflow_id("tpl"), nodes,
                                                     schema_of({{"x", "string"}, {"n", "number"}}),
                                                     json::object{{"x", "hello"}, {"n", 5}}));
    ASSERT_FALSE(done.empty());
    EXPECT_EQ(str_at(done, "status"), "success") << json::serialize(done.at("executionState"));
    EXPECT_EQ(output_of(done, "a"), (json::object{{"value", "hello"}}));
    EXPECT_EQ(output_of(done, "b"), (json::object{{"value", "hello"}}));
    EXPECT_EQ(output_of(done, "c"), (json::object{{"value", "got-hello-hello"}}));
    // A string that is exactly one template keeps the value's JSON type.
    EXPECT_EQ(output_of(done, "d"), (json::object{{"value", 5}}));
}

TEST_F(ApiExecutionTest, TemplatedValueThatDiffersFails) {
    const json::object done = run_to_end(run_request(
        unique_workflow_id("tplfail"),
        json::object{{"root", root({"a"})}, {"a", assert_node("{{props.x}}", "equals", "bye")}},
        schema_of({{"x", "string"}}), json::object{{"x", "hello"}}));
    ASSERT_FALSE(done.empty());
    EXPECT_EQ(str_at(done, "status"), "failure");
    EXPECT_EQ(node_status(done, "a"), "failure");
}

TEST_F(ApiExecutionTest, TemplateReferringToNothingFailsThatNodeNamingIt) {
    const json::object done = run_to_end(
        run_request(unique_workflow_id("tplmissing"),
                    json::object{{"root", root({"a"})},
                                 {"a", assert_node("{{props.missing}}", "equals", "x", {"b"})},
                                 {"b", assert_node("1", "equals", "1")}}));
    ASSERT_FALSE(done.empty());
    EXPECT_EQ(str_at(done, "status"), "failure");
    EXPECT_EQ(node_status(done, "a"), "failure");
    const json::value error = value_at(done, "/executionState/nodes/a/error");
    ASSERT_TRUE(error.is_object()) << error;
    EXPECT_NE(str_at(error.get_object(), "message").find("props.missing"), std::string::npos)
        << error;
    EXPECT_EQ(node_status(done, "b"), "skipped");
}

TEST_F(ApiExecutionTest, WaitingRunShowsStatusWaiting) {
    const json::object run = api().create_ok(wait_run(unique_workflow_id("waiting"), 30));
    const std::string id = str_at(run, "id");
    ASSERT_FALSE(id.empty());
    const json::object in_wait =
        api().poll_run(id, [](const json::object& r) { return node_status(r, "w") == "waiting"; });
    EXPECT_EQ(str_at(in_wait, "status"), "waiting")
        << "a run whose only node in progress is a wait is 'waiting'";
    EXPECT_TRUE(in_wait.at("finishedAt").is_null());
    EXPECT_TRUE(is_timestamp(node_state(in_wait, "w").at("startedAt")));
    EXPECT_TRUE(node_state(in_wait, "w").at("finishedAt").is_null());
    EXPECT_EQ(api().cancel(id).status, 200);
}

TEST_F(ApiExecutionTest, SiblingWaitsRunConcurrently) {
    const json::object nodes{{"root", root({"w1", "w2", "w3"})},
                             {"w1", wait_node(0.5)},
                             {"w2", wait_node(0.5)},
                             {"w3", wait_node(0.5)}};
    const auto start = std::chrono::steady_clock::now();
    const json::object done = run_to_end(run_request(unique_workflow_id("siblings"), nodes));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(done.empty());
    EXPECT_EQ(str_at(done, "status"), "success");
    EXPECT_LT(elapsed, 1400ms) << "three 0.5 s sibling waits took as long as running in turn";
}

TEST_F(ApiExecutionTest, TerminalRunNeverChanges) {
    const json::object done = run_to_end(run_request(
        unique_workflow_id("frozen"), json::object{{"root", root({"w"})},
                                                   {"w", wait_node(0.1, {"a"})},
                                                   {"a", assert_node("1", "equals", "1")}}));
    ASSERT_FALSE(done.empty());
    ASSERT_EQ(str_at(done, "status"), "success");
    const std::string id = str_at(done, "id");
    for (int i = 0; i < 3; ++i) {
        // Let time pass on the server's clock between reads.
        api().get("/v1/runs?limit=1");
        HttpResponse r = api().run(id);
        ASSERT_EQ(r.status, 200);
        const json::object& again = data_of(r);
        EXPECT_EQ(again.at("status"), done.at("status"));
        EXPECT_EQ(again.at("finishedAt"), done.at("finishedAt"));
        EXPECT_EQ(again.at("totalCu"), done.at("totalCu"));
        EXPECT_EQ(again.at("executionState"), done.at("executionState"));
    }
}

}  // namespace
}  // namespace forkrun::http::test
