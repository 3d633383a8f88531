// `forkrun runs ...` against a real server with a real anvil devnet: every subcommand, every exit
// code, --follow's events in order, JUnit reports checked by xmllint against tests/junit.xsd,
// and idempotent creates through the client.
#include <cstdlib>
#include <future>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

const std::string kExamples = std::string(FORKRUN_SOURCE_DIR) + "/examples";
const std::string kSchema = std::string(FORKRUN_SOURCE_DIR) + "/tests/junit.xsd";

class CliTest : public ::testing::Test {
  public:
    static void SetUpTestSuite() {
        try {
            ServerOptions opts;
            opts.extra_args = {"--devnet", "1", "--no-access-log"};
            server_ = std::make_unique<ServerProcess>(opts);
        } catch (const std::exception& e) {
            ADD_FAILURE() << "could not start forkrun serve: " << e.what();
        }
    }
    static void TearDownTestSuite() {
        if (server_) {
            EXPECT_TRUE(server_->stop().clean());
            server_.reset();
        }
    }

  protected:
    void SetUp() override {
        ASSERT_NE(server_, nullptr);
        api_.emplace(server_->base_url());
    }

    // `forkrun runs ARGS... --server URL --token TOKEN`.
    CommandResult runs(std::vector<std::string> args,
                       std::string token = kTokenARw,
                       std::chrono::milliseconds timeout = 60s) {
        args.insert(args.begin(), "runs");
        args.insert(args.end(), {"--server", server_->base_url(), "--token", token});
        return run_forkrun(args, timeout);
    }

    std::string write(const std::string& name, const json::value& v) {
        const auto path = dir_.path() / name;
        std::ofstream(path) << json::serialize(v);
        return path.string();
    }

    // The one JSON line `--json` printed last.
    static json::object last_json(const CommandResult& r) {
        auto text = r.out;
        while (!text.empty() && text.back() == '\n') {
            text.pop_back();
        }
        const auto line = text.substr(text.rfind('\n') + 1);
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        EXPECT_FALSE(ec) << r.out;
        return ec || !v.is_object() ? json::object{} : v.as_object();
    }

    // xmllint's verdict on `path` against tests/junit.xsd (empty: valid).
    static std::string schema_problems(const std::string& path) {
        const std::string cmd = "/usr/bin/xmllint --noout --schema '" + kSchema + "' '" + path +
                                "' > '" + path + ".lint' 2>&1";
        const int rc = std::system(cmd.c_str());
        return rc == 0 ? std::string() : read_file(path + ".lint");
    }

    // The run that the organization has of `workflow_id`, once it exists.
    std::string wait_for_run_of(const std::string& workflow_id) {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (std::chrono::steady_clock::now() < deadline) {
            auto r = api().get("/v1/runs?workflowId=" + workflow_id);
            const auto& runs = data_of(r).at("runs").as_array();
            if (!runs.empty()) {
                return str_at(runs[0].as_object(), "id");
            }
            std::this_thread::sleep_for(20ms);  // polling a condition against a deadline
        }
        ADD_FAILURE() << "no run of " << workflow_id;
        return {};
    }

    const Api& api() const { return *api_; }

    inline static std::unique_ptr<ServerProcess> server_;
    std::optional<Api> api_;
    TempDir dir_;
};

TEST_F(CliTest, HelpListsEveryCommand) {
    auto r = run_forkrun({"runs", "--help"});
    EXPECT_EQ(r.status.code, 0);
    for (const char* word : {"create", "get", "list", "cancel", "watch", "--junit", "--follow",
                             "--idempotency-key", "FORKRUN_SERVER", "FORKRUN_TOKEN"}) {
        EXPECT_NE(r.out.find(word), std::string::npos) << word;
    }
    EXPECT_NE(run_forkrun({"--help"}).out.find("forkrun runs"), std::string::npos);
    EXPECT_EQ(run_forkrun({"serve", "--help"}).status.code, 0);
}

TEST_F(CliTest, DustTestSucceedsWithAJUnitReport) {
    const auto report = (dir_.path() / "report.xml").string();
    auto r = runs(
        {"create", kExamples + "/dust.json", "--simulate", "--dust", "--wait", "--junit", report});
    EXPECT_EQ(r.status.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("success"), std::string::npos) << r.out;
    EXPECT_EQ(schema_problems(report), "");
    const auto xml = read_file(report);
    EXPECT_NE(xml.find("tests=\"5\" failures=\"0\""), std::string::npos) << xml;
    for (const char* node : {"root", "fund", "send", "bal", "check"}) {
        EXPECT_NE(xml.find("<testcase name=\"" + std::string(node) + "\""), std::string::npos);
    }
}

TEST_F(CliTest, FailedRunExitsOneAndItsReportNamesTheNodeWithItsMessage) {
    // Without --dust the transfer sends 1 ETH, and the assert on 1000 wei fails.
    const auto report = (dir_.path() / "report.xml").string();
    auto r =
        runs({"create", kExamples + "/dust.json", "--mode", "pool", "--wait", "--junit", report});
    EXPECT_EQ(r.status.code, 1) << r.out << r.err;
    EXPECT_EQ(schema_problems(report), "");
    const auto xml = read_file(report);
    EXPECT_NE(xml.find("failures=\"1\""), std::string::npos) << xml;
    const auto check = xml.find("<testcase name=\"check\"");
    ASSERT_NE(check, std::string::npos) << xml;
    EXPECT_NE(xml.find("<failure message=\"assert equals failed", check), std::string::npos) << xml;
}

TEST_F(CliTest, FollowPrintsEveryEventInOrder) {
    auto r = runs({"create", kExamples + "/dust.json", "--simulate", "--dust", "--follow"});
    EXPECT_EQ(r.status.code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    std::vector<std::string> events;
    int expected = 1;
    while (std::getline(lines, line)) {
        if (!line.starts_with("[")) {
            continue;
        }
        EXPECT_TRUE(line.starts_with("[" + std::to_string(expected) + "] ")) << line;
        ++expected;
        events.push_back(line.substr(line.find(' ') + 1));
    }
    ASSERT_GE(events.size(), 10u) << r.out;
    EXPECT_EQ(events.front(), "run waiting cu 0");
    EXPECT_TRUE(events.back().starts_with("end success")) << events.back();
    // The nodes in the graph's order, each running then success.
    std::vector<std::string> nodes;
    for (const auto& e : events) {
        if (e.starts_with("node ") && e.find(" success ") != std::string::npos) {
            nodes.push_back(e.substr(5, e.find(' ', 5) - 5));
        }
    }
    EXPECT_EQ(nodes, (std::vector<std::string>{"root", "fund", "send", "bal", "check"}));
}

TEST_F(CliTest, FollowJsonLinesMatchTheServersStream) {
    auto r =
        runs({"create", kExamples + "/dust.json", "--simulate", "--dust", "--follow", "--json"});
    EXPECT_EQ(r.status.code, 0) << r.err;
    const auto run = last_json(r);
    std::istringstream lines(r.out);
    std::string line;
    std::int64_t id = 0;
    std::string last_event;
    while (std::getline(lines, line)) {
        const auto v = json::parse(line).as_object();
        if (!v.contains("event")) {
            continue;  // the final Run
        }
        EXPECT_EQ(std::stoll(str_at(v, "id")), ++id);
        last_event = str_at(v, "event");
        if (last_event == "end") {
            EXPECT_EQ(v.at("data").at("totalCu"), run.at("totalCu"));
        }
    }
    EXPECT_EQ(last_event, "end");
    EXPECT_EQ(str_at(run, "status"), "success");
}

TEST_F(CliTest, CancelledRunExitsThreeForWatchAndCreateWait) {
    const auto wf = unique_workflow_id("cli");
    const auto file = write("hold.json", wait_run(wf, 600));
    // create --wait, cancelled from outside while it waits.
    auto waiting = std::async(std::launch::async, [&] { return runs({"create", file, "--wait"}); });
    const auto id = wait_for_run_of(wf);
    auto watching = std::async(std::launch::async, [&] { return runs({"watch", id}); });
    auto cancelled = runs({"cancel", id, "--reason", "from the cli test"});
    EXPECT_EQ(cancelled.status.code, 0) << cancelled.err;
    EXPECT_NE(cancelled.out.find("cancelled by alice"), std::string::npos) << cancelled.out;
    EXPECT_NE(cancelled.out.find("from the cli test"), std::string::npos) << cancelled.out;
    const auto w = waiting.get();
    EXPECT_EQ(w.status.code, 3) << w.out << w.err;
    const auto v = watching.get();
    EXPECT_EQ(v.status.code, 3) << v.out << v.err;
    EXPECT_NE(v.out.find("] end cancelled"), std::string::npos) << v.out;
    // Cancelling again is the server's 409, with its message.
    auto again = runs({"cancel", id});
    EXPECT_EQ(again.status.code, 2);
    EXPECT_NE(again.err.find("HTTP 409: run is already cancelled"), std::string::npos) << again.err;
}

TEST_F(CliTest, TimeoutExitsFourAndReportsUnfinishedNodesAsSkipped) {
    const auto wf = unique_workflow_id("cli");
    const auto report = (dir_.path() / "report.xml").string();
    auto r = runs({"create", write("hold.json", wait_run(wf, 600)), "--wait", "--timeout", "0.5",
                   "--junit", report});
    EXPECT_EQ(r.status.code, 4) << r.out << r.err;
    EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
    EXPECT_LT(r.status.elapsed, 30s);
    EXPECT_EQ(schema_problems(report), "");
    EXPECT_NE(read_file(report).find("<skipped message=\"not finished (waiting)\"/>"),
              std::string::npos)
        << read_file(report);
    EXPECT_EQ(api().cancel(wait_for_run_of(wf)).status, 200);
}

TEST_F(CliTest, BadTokenAndBadRequestsExitTwoWithTheServersMessage) {
    auto r = runs({"list"}, "not-a-token");
    EXPECT_EQ(r.status.code, 2);
    EXPECT_NE(r.err.find("HTTP 401: invalid bearer token"), std::string::npos) << r.err;
    // Every problem of the body, each on its line.
    auto body = quick_run(unique_workflow_id("cli"));
    body.erase("workflowVersion");
    body["isSimulaton"] = true;
    r = runs({"create", write("bad.json", body)});
    EXPECT_EQ(r.status.code, 2);
    EXPECT_NE(r.err.find("HTTP 400"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("  /workflowVersion: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("  /isSimulaton: "), std::string::npos) << r.err;
    // Usage: no file, an unknown flag, bad flag values (all named), an unknown command.
    EXPECT_EQ(runs({"create"}).status.code, 2);
    r = runs({"create", kExamples + "/dust.json", "--bogus"});
    EXPECT_EQ(r.status.code, 2);
    EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
    r = runs({"create", kExamples + "/dust.json", "--mode", "x", "--chains", "1,a", "--prop", "v"});
    EXPECT_EQ(r.status.code, 2);
    for (const char* flag : {"--mode", "--chains", "--prop"}) {
        EXPECT_NE(r.err.find(flag), std::string::npos) << flag << ": " << r.err;
    }
    EXPECT_EQ(runs({"frobnicate"}).status.code, 2);
    r = runs({"get", "run_AAAAAAAAAAAAAAAAAAAAAA"});
    EXPECT_EQ(r.status.code, 2);
    EXPECT_NE(r.err.find("HTTP 404"), std::string::npos) << r.err;
    // No server there: the transport error, exit 2.
    r = run_forkrun({"runs", "list", "--server", "http://127.0.0.1:1", "--token", kTokenARw});
    EXPECT_EQ(r.status.code, 2);
    EXPECT_NE(r.err.find("no answer from http://127.0.0.1:1"), std::string::npos) << r.err;
}

TEST_F(CliTest, GetAndListPrintTextOrTheApisJson) {
    // An older run, so that a page of one has a next page.
    api().create_ok(quick_run(unique_workflow_id("cli")));
    const auto wf = unique_workflow_id("cli");
    auto created = runs({"create", write("quick.json", quick_run(wf)), "--json", "--wait"});
    ASSERT_EQ(created.status.code, 0) << created.err;
    const auto id = str_at(last_json(created), "id");
    auto got = runs({"get", id, "--json"});
    EXPECT_EQ(got.status.code, 0);
    EXPECT_EQ(last_json(got), data_of(api().run(id)));
    got = runs({"get", id});
    EXPECT_NE(got.out.find("run " + id + "  success"), std::string::npos) << got.out;
    auto listed = runs({"list", "--status", "success", "--limit", "2", "--json"});
    EXPECT_EQ(listed.status.code, 0) << listed.err;
    const auto page = last_json(listed);
    ASSERT_TRUE(page.contains("runs")) << listed.out;
    EXPECT_LE(page.at("runs").as_array().size(), 2u);
    for (const auto& run : page.at("runs").as_array()) {
        EXPECT_EQ(str_at(run.as_object(), "status"), "success");
    }
    listed = runs({"list", "--limit", "1"});
    EXPECT_NE(listed.out.find(id), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("(more: --cursor "), std::string::npos) << listed.out;
    auto bad = runs({"list", "--status", "done,nope", "--limit", "0"});
    EXPECT_EQ(bad.status.code, 2);
    EXPECT_NE(bad.err.find("3 problems"), std::string::npos) << bad.err;
}

TEST_F(CliTest, ServerAndTokenComeFromTheEnvironment) {
    ::setenv("FORKRUN_SERVER", server_->base_url().c_str(), 1);
    ::setenv("FORKRUN_TOKEN", kTokenBRw, 1);
    auto r = run_forkrun(
        {"runs", "create", write("quick.json", quick_run(unique_workflow_id("cli"))), "--json"});
    ::unsetenv("FORKRUN_SERVER");
    ::unsetenv("FORKRUN_TOKEN");
    EXPECT_EQ(r.status.code, 0) << r.err;
    EXPECT_EQ(str_at(last_json(r), "organizationId"), kOrgB);
}

TEST_F(CliTest, ABareDefinitionTakesItsFlags) {
    const auto wf = unique_workflow_id("cli");
    json::object definition{
        {"nodes",
         json::object{{"root", root({"a"})}, {"a", assert_node("{{props.n}}", "gte", 10)}}},
        {"inputSchema",
         json::array{json::object{{"key", "n"}, {"type", "number"}, {"required", true}},
                     json::object{{"key", "label"}, {"type", "string"}}}}};
    auto r =
        runs({"create", write("def.json", definition), "--workflow-id", wf, "--workflow-version",
              "3", "--prop", "n=42", "--prop", "label=42", "--wait", "--json"});
    EXPECT_EQ(r.status.code, 0) << r.err;
    const auto run = last_json(r);
    EXPECT_EQ(str_at(run, "workflowId"), wf);
    EXPECT_EQ(run.at("workflowVersion"), 3);
    EXPECT_EQ(run.at("propValues"), (json::object{{"n", 42}, {"label", "42"}}));
    EXPECT_EQ(str_at(run, "triggerSource"), "cli");
}

TEST_F(CliTest, IdempotencyKeyReplaysThroughTheClient) {
    const auto wf = unique_workflow_id("cli");
    const auto file = write("quick.json", quick_run(wf));
    const std::string key = "ci-" + random_hex(8);
    auto first = runs({"create", file, "--idempotency-key", key, "--json"});
    auto second = runs({"create", file, "--idempotency-key", key});
    ASSERT_EQ(first.status.code, 0) << first.err;
    EXPECT_EQ(second.status.code, 0) << second.err;
    const auto id = str_at(last_json(first), "id");
    EXPECT_NE(second.out.find("replayed: Idempotency-Key " + key), std::string::npos) << second.out;
    EXPECT_NE(second.out.find(id), std::string::npos) << second.out;
    EXPECT_EQ(data_of(api().get("/v1/runs?workflowId=" + wf)).at("runs").as_array().size(), 1u);
    // The same key with another body: the server's 422.
    auto other = runs({"create", file, "--idempotency-key", key, "--prop", "x=1"});
    EXPECT_EQ(other.status.code, 2);
    EXPECT_NE(other.err.find("HTTP 422"), std::string::npos) << other.err;
}

}  // namespace
}  // namespace forkrun::http::test
