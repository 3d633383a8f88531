// Shared pieces of the API tests: a shared server per suite, request helpers that check the
// envelope on every response, Run-object shape checks and workflow builders.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "http/http_client.hpp"
#include "http/server_process.hpp"

namespace forkrun::http::test {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Small JSON helpers.

inline bool is_integer(const json::value& v) {
    return v.is_int64() || v.is_uint64();
}
inline bool is_number(const json::value& v) {
    return v.is_int64() || v.is_uint64() || v.is_double();
}
inline double number_of(const json::value& v) {
    return v.is_double()  ? v.get_double()
           : v.is_int64() ? static_cast<double>(v.get_int64())
                          : static_cast<double>(v.get_uint64());
}
inline std::string str(const json::value& v) {
    return v.is_string() ? std::string(v.get_string()) : std::string{};
}
/// `o[key]` as a string, or "" when absent or not a string.
inline std::string str_at(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it == o.end() ? std::string{} : str(it->value());
}
inline std::string to_lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}
inline bool contains_ci(const std::string& haystack, const std::string& needle) {
    return to_lower(haystack).find(to_lower(needle)) != std::string::npos;
}

inline std::string random_hex(std::size_t chars) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < chars; ++i) {
        out.push_back(kDigits[rng() % 16]);
    }
    return out;
}

/// A workflow id no other test uses, so list filters see only this test's runs.
inline std::string unique_workflow_id(std::string_view prefix) {
    return "wf_" + std::string(prefix) + "_" + random_hex(12);
}

// ---------------------------------------------------------------------------------------------
// Contract shapes.

inline const std::regex& timestamp_pattern() {
    static const std::regex pattern(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
    return pattern;
}

/// RFC 3339 UTC with milliseconds, e.g. 2026-11-28T08:34:53.123Z.
inline bool is_timestamp(const json::value& v) {
    return v.is_string() && std::regex_match(std::string(v.get_string()), timestamp_pattern());
}

/// Milliseconds since the epoch of a timestamp accepted by `is_timestamp`.
inline std::int64_t timestamp_ms(const json::value& v) {
    const std::string s(v.get_string());
    std::tm tm{};
    tm.tm_year = std::stoi(s.substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(s.substr(5, 2)) - 1;
    tm.tm_mday = std::stoi(s.substr(8, 2));
    tm.tm_hour = std::stoi(s.substr(11, 2));
    tm.tm_min = std::stoi(s.substr(14, 2));
    tm.tm_sec = std::stoi(s.substr(17, 2));
    return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + std::stoi(s.substr(20, 3));
}

inline std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// URL-safe and at least 96 random bits: >= 24 hex digits, or >= 16 base64url characters (after an
/// optional readable prefix such as "run_").
inline ::testing::AssertionResult is_run_id(const std::string& id) {
    static const std::regex url_safe(R"(^[A-Za-z0-9_-]+$)");
    if (!std::regex_match(id, url_safe)) {
        return ::testing::AssertionFailure() << "id '" << id << "' is not URL-safe";
    }
    static const std::regex prefixed(R"(^[A-Za-z]{1,8}_(.+)$)");
    std::smatch m;
    std::string random_part = id;
    if (std::regex_match(id, m, prefixed)) {
        random_part = m[1].str();
    }
    static const std::regex hex(R"(^[0-9a-fA-F]+$)");
    const std::size_t needed = std::regex_match(random_part, hex) ? 24 : 16;
    if (random_part.size() < needed) {
        return ::testing::AssertionFailure()
               << "id '" << id << "' has too few random characters for 96 bits ('" << random_part
               << "', need " << needed << ")";
    }
    return ::testing::AssertionSuccess();
}

inline const std::set<std::string>& run_statuses() {
    static const std::set<std::string> s{"waiting", "running", "success", "failure", "cancelled"};
    return s;
}
inline bool is_terminal(const std::string& status) {
    return status == "success" || status == "failure" || status == "cancelled";
}
inline const std::set<std::string>& node_statuses() {
    static const std::set<std::string> s{"pending", "running",   "waiting", "success",
                                         "failure", "cancelled", "skipped"};
    return s;
}

/// Checks the envelope every response must carry (API.md "Conventions").
inline ::testing::AssertionResult is_envelope(const HttpResponse& r) {
    auto fail = [&]() {
        return ::testing::AssertionFailure() << "(HTTP " << r.status << ", body " << r.body << ") ";
    };
    if (r.status == 0) {
        return ::testing::AssertionFailure() << "no HTTP response: " << r.transport_error;
    }
    if (!r.header("Content-Type").starts_with("application/json")) {
        return fail() << "Content-Type is '" << r.header("Content-Type")
                      << "', want application/json";
    }
    if (!r.json || !r.json->is_object()) {
        return fail() << "body is not a JSON object";
    }
    const auto& o = r.json->get_object();
    const auto* code = o.if_contains("code");
    if (code == nullptr || !is_integer(*code) ||
        number_of(*code) != static_cast<double>(r.status)) {
        return fail() << "'code' is not the HTTP status as an integer";
    }
    const auto* data = o.if_contains("data");
    if (data == nullptr || !(data->is_object() || data->is_null())) {
        return fail() << "'data' is missing or not an object/null";
    }
    const auto* message = o.if_contains("message");
    if (message == nullptr || !message->is_string()) {
        return fail() << "'message' is missing or not a string";
    }
    const bool ok = r.status >= 200 && r.status < 300;
    if (ok && message->get_string() != "success") {
        return fail() << "'message' on a 2xx must be \"success\"";
    }
    if (!ok && (message->get_string().empty() || message->get_string() == "success")) {
        return fail() << "'message' on an error must be a sentence saying what was wrong";
    }
    const auto* request_id = o.if_contains("requestId");
    if (request_id == nullptr || !request_id->is_string() || request_id->get_string().empty()) {
        return fail() << "'requestId' is missing or empty";
    }
    if (r.header("X-Request-Id") != request_id->get_string()) {
        return fail() << "X-Request-Id header '" << r.header("X-Request-Id")
                      << "' differs from requestId";
    }
    return ::testing::AssertionSuccess();
}

/// `data` of an enveloped response ({} when absent or not an object).
inline const json::object& data_of(const HttpResponse& r) {
    static const json::object kEmpty;
    if (!r.json || !r.json->is_object()) {
        return kEmpty;
    }
    const auto* data = r.json->get_object().if_contains("data");
    return data != nullptr && data->is_object() ? data->get_object() : kEmpty;
}
inline std::string request_id_of(const HttpResponse& r) {
    if (!r.json || !r.json->is_object()) {
        return {};
    }
    return str_at(r.json->get_object(), "requestId");
}
inline std::string message_of(const HttpResponse& r) {
    if (!r.json || !r.json->is_object()) {
        return {};
    }
    return str_at(r.json->get_object(), "message");
}

/// The `data.errors` of a 400, or an empty array.
inline json::array errors_of(const HttpResponse& r) {
    const auto* errors = data_of(r).if_contains("errors");
    return errors != nullptr && errors->is_array() ? errors->get_array() : json::array{};
}

/// Every entry of `data.errors` is {path: JSON pointer, message: non-empty string}.
inline ::testing::AssertionResult are_validation_errors(const HttpResponse& r) {
    const auto* errors = data_of(r).if_contains("errors");
    if (errors == nullptr || !errors->is_array() || errors->get_array().empty()) {
        return ::testing::AssertionFailure() << "no data.errors list in " << r.body;
    }
    for (const auto& e : errors->get_array()) {
        if (!e.is_object()) {
            return ::testing::AssertionFailure() << "error entry is not an object: " << e;
        }
        const auto& o = e.get_object();
        const auto* path = o.if_contains("path");
        const auto* message = o.if_contains("message");
        if (path == nullptr || !path->is_string() ||
            !(path->get_string().empty() || path->get_string().starts_with("/"))) {
            return ::testing::AssertionFailure() << "error without a JSON pointer path: " << e;
        }
        if (message == nullptr || !message->is_string() || message->get_string().empty()) {
            return ::testing::AssertionFailure() << "error without a message: " << e;
        }
    }
    return ::testing::AssertionSuccess();
}

/// Some error's path is `pointer` or lies below it.
inline bool has_error_at(const json::array& errors, const std::string& pointer) {
    return std::any_of(errors.begin(), errors.end(), [&](const json::value& e) {
        if (!e.is_object()) {
            return false;
        }
        const std::string path = str_at(e.get_object(), "path");
        return path == pointer || path.starts_with(pointer + "/");
    });
}

/// A problem with member `key` of the object at `parent`: reported at `parent/key` (or below), or
/// at `parent` with a message naming the key (the usual spelling of "missing").
inline bool has_error_about(const json::array& errors,
                            const std::string& parent,
                            const std::string& key) {
    if (has_error_at(errors, parent + "/" + key)) {
        return true;
    }
    return std::any_of(errors.begin(), errors.end(), [&](const json::value& e) {
        return e.is_object() && str_at(e.get_object(), "path") == parent &&
               str_at(e.get_object(), "message").find(key) != std::string::npos;
    });
}

enum class RunView { kFull, kListItem };

/// Checks a Run object: every key of API.md/the seed present with its type (null where unknown).
inline ::testing::AssertionResult is_run(const json::value& value, RunView view = RunView::kFull) {
    if (!value.is_object()) {
        return ::testing::AssertionFailure() << "run is not an object: " << value;
    }
    const auto& run = value.get_object();
    auto fail = [&](std::string_view key) {
        return ::testing::AssertionFailure() << "run key '" << key << "' is missing or has the "
                                             << "wrong type in " << value;
    };
    auto check = [&](std::string_view key, auto predicate) {
        const auto* v = run.if_contains(key);
        return v != nullptr && predicate(*v);
    };
    const auto string = [](const json::value& v) { return v.is_string(); };
    const auto string_or_null = [](const json::value& v) { return v.is_string() || v.is_null(); };
    if (!check("id", [](const json::value& v) { return v.is_string() && !v.get_string().empty(); }))
        return fail("id");
    if (!check("organizationId", string))
        return fail("organizationId");
    if (!check("workflowId", string))
        return fail("workflowId");
    if (!check("workflowVersion", is_integer))
        return fail("workflowVersion");
    if (!check("propValues", [](const json::value& v) { return v.is_object(); }))
        return fail("propValues");
    if (!check("status", [](const json::value& v) {
            return v.is_string() && run_statuses().contains(std::string(v.get_string()));
        }))
        return fail("status");
    if (!check("startedAt", is_timestamp))
        return fail("startedAt");
    if (!check("finishedAt", [](const json::value& v) { return v.is_null() || is_timestamp(v); }))
        return fail("finishedAt");
    const bool terminal = is_terminal(str_at(run, "status"));
    if (terminal != run.at("finishedAt").is_string()) {
        return ::testing::AssertionFailure()
               << "finishedAt must be set exactly when the run is terminal: " << value;
    }
    if (!check("isSimulation", [](const json::value& v) { return v.is_bool(); }))
        return fail("isSimulation");
    if (!check("isDustTest", [](const json::value& v) { return v.is_bool(); }))
        return fail("isDustTest");
    if (!check("simulationMode", string_or_null))
        return fail("simulationMode");
    if (!check("simulationForks", [](const json::value& v) { return v.is_array(); }))
        return fail("simulationForks");
    for (const auto& fork : run.at("simulationForks").get_array()) {
        if (!fork.is_object() || !fork.get_object().contains("chainId") ||
            !fork.get_object().contains("forkId") || !fork.get_object().contains("rpcUrl")) {
            return fail("simulationForks[]");
        }
    }
    if (!check("sourceRunId", string_or_null))
        return fail("sourceRunId");
    if (!check("totalCu", is_number))
        return fail("totalCu");
    if (!check("triggerSource", string))
        return fail("triggerSource");
    if (!check("triggeredBy", string))
        return fail("triggeredBy");
    if (!run.at("isSimulation").get_bool() && !run.at("simulationMode").is_null()) {
        return ::testing::AssertionFailure() << "simulationMode must be null for a live run";
    }

    if (view == RunView::kListItem) {
        if (run.contains("workflowDefinition") || run.contains("executionState")) {
            return ::testing::AssertionFailure()
                   << "list items must omit workflowDefinition and executionState: " << value;
        }
        return ::testing::AssertionSuccess();
    }

    // blockExpansions is checked by its own test (ApiCreateTest.SnapshotCarriesBlockExpansions).
    if (!check("workflowDefinition", [](const json::value& v) {
            if (!v.is_object()) {
                return false;
            }
            const auto& d = v.get_object();
            const auto* nodes = d.if_contains("nodes");
            const auto* schema = d.if_contains("inputSchema");
            return nodes != nullptr && nodes->is_object() && schema != nullptr &&
                   schema->is_array();
        }))
        return fail("workflowDefinition (nodes object, inputSchema array)");

    if (!check("executionState", [](const json::value& v) { return v.is_object(); }))
        return fail("executionState");
    const auto& state = run.at("executionState").get_object();
    const auto* nodes = state.if_contains("nodes");
    if (nodes == nullptr || !nodes->is_object())
        return fail("executionState.nodes");
    for (const auto& [id, node_value] : nodes->get_object()) {
        if (!node_value.is_object()) {
            return fail("executionState.nodes." + std::string(id));
        }
        const auto& node = node_value.get_object();
        const auto* status = node.if_contains("status");
        const auto* started = node.if_contains("startedAt");
        const auto* finished = node.if_contains("finishedAt");
        const auto* cu = node.if_contains("cu");
        const auto* error = node.if_contains("error");
        const bool ok =
            status != nullptr && status->is_string() &&
            node_statuses().contains(std::string(status->get_string())) && started != nullptr &&
            (started->is_null() || is_timestamp(*started)) && finished != nullptr &&
            (finished->is_null() || is_timestamp(*finished)) && cu != nullptr && is_number(*cu) &&
            node.contains("output") && error != nullptr &&
            (error->is_null() || (error->is_object() && error->get_object().contains("code") &&
                                  error->get_object().contains("message")));
        if (!ok) {
            return fail("executionState.nodes." + std::string(id) +
                        " {status, startedAt, finishedAt, cu, output, error}");
        }
    }
    const auto* forks = state.if_contains("forks");
    if (forks == nullptr || !forks->is_object())
        return fail("executionState.forks");
    const auto* error = state.if_contains("error");
    if (error == nullptr ||
        !(error->is_null() ||
          (error->is_object() && error->get_object().contains("code") &&
           error->get_object().contains("message") && error->get_object().contains("nodeId"))))
        return fail("executionState.error");
    const auto* cancellation = state.if_contains("cancellation");
    if (cancellation == nullptr || !(cancellation->is_null() || cancellation->is_object()))
        return fail("executionState.cancellation");
    return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------------
// Workflow builders.

/// A node `{"type": ..., "children": [...], "props": {...}}` (empty parts left out).
inline json::object node(std::string_view type,
                         std::vector<std::string> children = {},
                         json::object props = {}) {
    json::object n{{"type", type}};
    if (!children.empty()) {
        json::array c;
        for (auto& child : children) {
            c.emplace_back(child);
        }
        n["children"] = std::move(c);
    }
    if (!props.empty()) {
        n["props"] = std::move(props);
    }
    return n;
}
inline json::object root(std::vector<std::string> children = {}) {
    return node("manual", std::move(children));
}
inline json::object wait_node(double seconds, std::vector<std::string> children = {}) {
    return node("wait", std::move(children), json::object{{"seconds", seconds}});
}
/// An `assert` node: `value` compared with `expected` by `op` (equals, notEquals, gte, lte).
inline json::object assert_node(json::value value,
                                std::string_view op,
                                json::value expected,
                                std::vector<std::string> children = {}) {
    return node("assert", std::move(children),
                json::object{{"value", std::move(value)}, {op, std::move(expected)}});
}

/// A POST /v1/runs body for a live run.
inline json::object run_request(std::string_view workflow_id,
                                json::object nodes,
                                json::array input_schema = {},
                                json::object prop_values = {}) {
    return json::object{
        {"workflowId", workflow_id},
        {"workflowVersion", 1},
        {"workflowDefinition",
         json::object{{"nodes", std::move(nodes)}, {"inputSchema", std::move(input_schema)}}},
        {"propValues", std::move(prop_values)},
        {"isSimulation", false},
    };
}

/// root -> w (wait `seconds`).
inline json::object wait_run(std::string_view workflow_id, double seconds) {
    return run_request(workflow_id, json::object{{"root", root({"w"})}, {"w", wait_node(seconds)}});
}

/// root -> a (assert "1" equals "1"): finishes with success at once.
inline json::object quick_run(std::string_view workflow_id) {
    return run_request(workflow_id,
                       json::object{{"root", root({"a"})}, {"a", assert_node("1", "equals", "1")}});
}

// A server run with `config` as its --config file (written into `dir`).
inline std::unique_ptr<ServerProcess> start_server_with_config(const json::object& config,
                                                               TempDir& dir,
                                                               ServerOptions opts = {}) {
    const auto path = dir.path() / "config.json";
    std::ofstream(path) << json::serialize(config);
    opts.extra_args.insert(opts.extra_args.begin(), {"--config", path.string()});
    return std::make_unique<ServerProcess>(opts);
}

// ---------------------------------------------------------------------------------------------
// Requests.

/// Requests against one server; every response's envelope is checked (a failure is recorded).
class Api {
  public:
    explicit Api(std::string base_url) : client_(std::move(base_url)) {}

    const HttpClient& client() const { return client_; }

    HttpResponse send(HttpRequest request, bool check_envelope = true) const {
        const std::string what = request.method + " " + request.target;
        HttpResponse r = client_.send(request);
        if (check_envelope) {
            EXPECT_TRUE(is_envelope(r)) << what;
        }
        return r;
    }

    HttpResponse get(const std::string& target,
                     std::optional<std::string> token = kTokenARw,
                     std::vector<std::pair<std::string, std::string>> headers = {}) const {
        HttpRequest request = make_request("GET", target);
        request.headers = std::move(headers);
        if (token) {
            request.headers.emplace_back("Authorization", "Bearer " + *token);
        }
        request.timeout = 90s;
        return send(std::move(request));
    }

    HttpResponse post_json(const std::string& target,
                           const json::value& body,
                           std::optional<std::string> token = kTokenARw) const {
        HttpRequest request = make_request("POST", target, json::serialize(body));
        request.headers.emplace_back("Content-Type", "application/json");
        if (token) {
            request.headers.emplace_back("Authorization", "Bearer " + *token);
        }
        return send(std::move(request));
    }

    HttpResponse create(const json::object& body, std::string token = kTokenARw) const {
        return post_json("/v1/runs", body, token);
    }

    /// Creates a run and returns it; records a failure (and returns {}) unless the answer is 201.
    json::object create_ok(const json::object& body, std::string token = kTokenARw) const {
        HttpResponse r = create(body, std::move(token));
        EXPECT_EQ(r.status, 201) << r.body;
        if (r.status != 201) {
            return {};
        }
        return data_of(r);
    }

    HttpResponse run(const std::string& id, std::string token = kTokenARw) const {
        return get("/v1/runs/" + id, token);
    }

    /// POST /v1/runs/{id}/cancel, with `{"reason": ...}` when a reason is given, else no body.
    HttpResponse cancel(const std::string& id,
                        std::string token = kTokenARw,
                        std::optional<std::string> reason = std::nullopt) const {
        if (reason) {
            return post_json("/v1/runs/" + id + "/cancel", json::object{{"reason", *reason}},
                             token);
        }
        HttpRequest request = make_request("POST", "/v1/runs/" + id + "/cancel");
        request.headers.emplace_back("Authorization", "Bearer " + token);
        return send(std::move(request));
    }

    /// Long-polls until the run is terminal (or `timeout`); returns the last Run seen.
    json::object wait_terminal(const std::string& id,
                               std::chrono::milliseconds timeout = 20s,
                               std::string token = kTokenARw) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        json::object last;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            const auto poll = std::clamp<std::int64_t>(left.count(), 1, 10000);
            HttpResponse r = get(
                "/v1/runs/" + id + "?waitUntil=terminal&timeoutMs=" + std::to_string(poll), token);
            if (r.status != 200) {
                ADD_FAILURE() << "long-poll of " << id << " answered " << r.status << ": "
                              << r.body;
                return last;
            }
            last = data_of(r);
            if (is_terminal(str_at(last, "status"))) {
                return last;
            }
        }
        ADD_FAILURE() << "run " << id << " not terminal within " << timeout.count() << " ms";
        return last;
    }

    /// Polls GET until `done(run)` holds or the deadline passes; returns the last Run seen.
    template <typename Done>
    json::object poll_run(const std::string& id,
                          Done done,
                          std::chrono::milliseconds timeout = 10s) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        json::object last;
        for (;;) {
            HttpResponse r = run(id);
            last = data_of(r);
            if (r.status == 200 && done(last)) {
                return last;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                ADD_FAILURE() << "condition on run " << id << " not met within " << timeout.count()
                              << " ms; last: " << json::serialize(last);
                return last;
            }
            // Polling a condition against a deadline.
            std::this_thread::sleep_for(20ms);
        }
    }

  private:
    HttpClient client_;
};

/// The value at JSON pointer `pointer` in `run`, or null when there is none.
inline json::value value_at(const json::object& run, std::string_view pointer) {
    boost::system::error_code ec;
    const json::value root_value(run);
    const json::value* v = root_value.find_pointer(pointer, ec);
    return v != nullptr ? *v : json::value(nullptr);
}

/// Status of node `node_id` in a full Run ("" when absent).
inline std::string node_status(const json::object& run, std::string_view node_id) {
    const auto* state = run.if_contains("executionState");
    if (state == nullptr || !state->is_object()) {
        return {};
    }
    const auto* nodes = state->get_object().if_contains("nodes");
    if (nodes == nullptr || !nodes->is_object()) {
        return {};
    }
    const auto* n = nodes->get_object().if_contains(node_id);
    return n != nullptr && n->is_object() ? str_at(n->get_object(), "status") : std::string{};
}

/// executionState.nodes[node_id] (or {}).
inline json::object node_state(const json::object& run, std::string_view node_id) {
    const json::value* n = nullptr;
    boost::system::error_code ec;
    if (const auto* state = run.if_contains("executionState")) {
        n = state->find_pointer("/nodes/" + std::string(node_id), ec);
    }
    return n != nullptr && n->is_object() ? n->get_object() : json::object{};
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// One server shared by every test of a suite (tests that stop a server start their own).
class ApiSharedServerTest : public ::testing::Test {
  public:
    static void SetUpTestSuite() {
        try {
            shared_server_ = std::make_unique<ServerProcess>();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "could not start forkrun serve: " << e.what();
        }
    }

    static void TearDownTestSuite() {
        if (!shared_server_) {
            return;
        }
        const ExitStatus status = shared_server_->stop(SIGTERM, 10s);
        EXPECT_TRUE(status.clean())
            << "forkrun serve on SIGTERM: " << status.describe() << "\nstderr tail:\n"
            << tail(shared_server_->stderr_text());
        shared_server_.reset();
    }

  protected:
    void SetUp() override {
        ASSERT_NE(shared_server_, nullptr) << "the shared server did not start";
        api_.emplace(shared_server_->base_url());
    }

    static ServerProcess& server() { return *shared_server_; }
    const Api& api() const { return *api_; }

    static std::string tail(const std::string& text, std::size_t chars = 4000) {
        return text.size() <= chars ? text : text.substr(text.size() - chars);
    }

  private:
    inline static std::unique_ptr<ServerProcess> shared_server_;
    std::optional<Api> api_;
};

}  // namespace forkrun::http::test
