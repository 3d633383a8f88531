// A workflow file made into a create body: a bare definition is wrapped, then the flags win.
#include "app/cli_request.hpp"

#include <boost/json/parse.hpp>
#include <charconv>

namespace forkrun::app {

namespace json = boost::json;

namespace {

// The type inputSchema declares for `key`, or empty.
std::string declared_type(const json::object& body, const std::string& key) {
    const auto* def = body.if_contains("workflowDefinition");
    const auto* schema =
        def && def->is_object() ? def->get_object().if_contains("inputSchema") : nullptr;
    if (!schema || !schema->is_array()) {
        return {};
    }
    for (const auto& entry : schema->get_array()) {
        const auto* o = entry.if_object();
        const auto* k = o ? o->if_contains("key") : nullptr;
        const auto* t = o ? o->if_contains("type") : nullptr;
        if (k && k->is_string() && k->get_string() == key && t && t->is_string()) {
            return std::string(t->get_string());
        }
    }
    return {};
}

// VALUE of --prop KEY=VALUE as the JSON the key's declared type wants: text for a string, the
// JSON it spells otherwise (an undeclared key: JSON when it parses, else text).
std::optional<json::value> prop_value(const std::string& type, const std::string& text) {
    if (type == "string") {
        return json::value(text);
    }
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) {
        return type.empty() ? std::optional<json::value>(json::value(text)) : std::nullopt;
    }
    return v;
}

}  // namespace

std::optional<json::object> create_body(const json::value& file,
                                        const std::string& default_workflow_id,
                                        const CreateFlags& flags,
                                        std::vector<std::string>& problems) {
    const std::size_t before = problems.size();
    if (!file.is_object()) {
        problems.push_back("the workflow file must hold a JSON object");
        return std::nullopt;
    }
    json::object body;
    const auto& o = file.get_object();
    if (o.contains("workflowDefinition") || o.contains("sourceRunId")) {
        body = o;  // the API's body
    } else if (o.contains("nodes")) {
        body["workflowId"] = default_workflow_id;
        body["workflowVersion"] = 1;
        body["workflowDefinition"] = o;  // just the definition
    } else {
        problems.push_back(
            "the workflow file holds neither a POST /v1/runs body (with workflowDefinition) nor "
            "a workflowDefinition (with nodes)");
        return std::nullopt;
    }
    if (!body.contains("triggerSource")) {
        body["triggerSource"] = "cli";
    }
    if (flags.workflow_id) {
        body["workflowId"] = *flags.workflow_id;
    }
    if (flags.workflow_version) {
        std::int64_t n = 0;
        const auto& s = *flags.workflow_version;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec != std::errc() || p != s.data() + s.size() || n < 1) {
            problems.push_back("--workflow-version wants an integer of at least 1");
        } else {
            body["workflowVersion"] = n;
        }
    }
    if (flags.simulate || flags.mode) {
        body["isSimulation"] = true;
    }
    if (flags.mode) {
        if (*flags.mode != "fork" && *flags.mode != "pool") {
            problems.push_back("--mode wants fork or pool, not " + *flags.mode);
        }
        body["simulationMode"] = *flags.mode;
    }
    if (flags.chains) {
        json::array ids;
        std::string_view rest = *flags.chains;
        bool ok = !rest.empty();
        while (ok && !rest.empty()) {
            const auto comma = rest.find(',');
            const auto one = rest.substr(0, comma);
            std::uint64_t id = 0;
            auto [p, ec] = std::from_chars(one.data(), one.data() + one.size(), id);
            ok = ec == std::errc() && p == one.data() + one.size() && id > 0;
            ids.push_back(id);
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
        if (!ok) {
            problems.push_back("--chains wants chain ids like 1,8453, not " + *flags.chains);
        }
        body["chains"] = std::move(ids);
    }
    if (flags.dust) {
        body["isDustTest"] = true;
    }
    if (!flags.props.empty()) {
        auto* values = body.if_contains("propValues");
        if (!values || !values->is_object()) {
            body["propValues"] = json::object();
            values = &body["propValues"];
        }
        for (const auto& kv : flags.props) {
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) {
                problems.push_back("--prop wants KEY=VALUE, not " + kv);
                continue;
            }
            const std::string key = kv.substr(0, eq);
            const std::string type = declared_type(body, key);
            auto v = prop_value(type, kv.substr(eq + 1));
            if (!v) {
                problems.push_back("--prop " + key + ": the input is declared " + type + " and " +
                                   kv.substr(eq + 1) + " is not JSON of that type");
                continue;
            }
            values->get_object()[key] = std::move(*v);
        }
    }
    if (problems.size() != before) {
        return std::nullopt;
    }
    return body;
}

}  // namespace forkrun::app
