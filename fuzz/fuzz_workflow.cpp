// Workflow validation (controller/workflow_validation.hpp) and POST /v1/runs decoding
// (controller/run_request.hpp).
// Input: JSON, either a run request (an object with "workflowDefinition") or a bare definition.
// The definition is validated with every node type enabled, as a simulation when the request
// says so, and with block `{{inputs.x}}` templates allowed when the input's size is odd (both
// settings get explored); its nodes are put in graph order; propValues are checked against its
// inputSchema; a run request is decoded as the API would (a run "run_src" exists for
// sourceRunId). Checks: nothing throws, crashes or takes unbounded time; every error has a
// pointer under the right base and a message, both UTF-8; the graph of any nodes object is a
// permutation of its ids with consistent edges; the graph of a valid definition starts at root and
// is topologically ordered; a decoded run's nodes follow its graph.
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/run_request.hpp"
#include "controller/run_store.hpp"
#include "controller/workflow_validation.hpp"
#include "fuzz/check.hpp"
#include "http/envelope.hpp"

namespace {

namespace json = boost::json;
using namespace forkrun::controller;

void check_errors(const FieldErrors& errors, std::string_view base) {
    for (const auto& e : errors) {
        FUZZ_CHECK(e.path.starts_with(base), "error pointers start at their base");
        FUZZ_CHECK(!e.message.empty(), "errors say why");
        FUZZ_CHECK(forkrun::http::valid_utf8(e.message) == e.message &&
                       forkrun::http::valid_utf8(e.path) == e.path,
                   "errors about UTF-8 input are UTF-8");
    }
}

void check_graph(const json::object& nodes, const Graph& g, bool valid) {
    const std::size_t n = nodes.size();
    FUZZ_CHECK(
        g.ids.size() == n && g.children.size() == n && g.parents.size() == n && g.index.size() == n,
        "one graph entry per node");
    for (std::size_t i = 0; i < n; ++i) {
        FUZZ_CHECK(nodes.contains(g.ids[i]), "graph ids are node ids");
        const auto found = g.find(g.ids[i]);
        FUZZ_CHECK(found && *found == i, "the index maps each id to its position");
        std::set<std::size_t> seen;
        for (std::size_t c : g.children[i]) {
            FUZZ_CHECK(c < n && c != i, "children are other nodes");
            FUZZ_CHECK(seen.insert(c).second, "no duplicate edges");
            const auto& ps = g.parents[c];
            FUZZ_CHECK(std::find(ps.begin(), ps.end(), i) != ps.end(), "edges go both ways");
            if (valid) {
                FUZZ_CHECK(c > i, "a valid graph is in topological order");
            }
        }
        for (std::size_t p : g.parents[i]) {
            FUZZ_CHECK(p < n, "parents are nodes");
            const auto& cs = g.children[p];
            FUZZ_CHECK(std::find(cs.begin(), cs.end(), i) != cs.end(), "edges go both ways");
        }
    }
    if (valid) {
        FUZZ_CHECK(n > 0 && g.ids[0] == "root", "a valid graph starts at root");
    }
}

RunStore& store() {
    static RunStore* s = [] {
        auto* st = new RunStore;
        RunRequestContext ctx;
        ctx.organization_id = "org_fuzz";
        ctx.subject = "fuzz";
        ctx.enabled_types = NodeTypeSet::all();
        const json::value body = json::parse(R"({
            "workflowId": "wf_source", "workflowVersion": 3, "isSimulation": true,
            "workflowDefinition": {
                "nodes": {
                    "root": {"type": "manual", "children": ["check"]},
                    "check": {"type": "assert", "props": {"value": "{{props.amount}}",
                                                          "equals": 5}}
                },
                "inputSchema": [{"key": "amount", "type": "number", "required": true}]
            },
            "propValues": {"amount": 5}, "chains": [8453]})");
        auto decoded = decode_run_request(body, ctx);
        FUZZ_CHECK(decoded.has_value(), "the source run decodes");
        Run run = std::move(decoded->run);
        run.id = "run_src";
        st->insert(std::move(run));
        return st;
    }();
    return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    json::parse_options popts;
    popts.max_depth = 256;
    boost::system::error_code ec;
    const json::value doc =
        json::parse(std::string_view(reinterpret_cast<const char*>(data), size), ec, {}, popts);
    if (ec) {
        return 0;
    }
    const json::object* request = doc.if_object();
    const json::value* def = request ? request->if_contains("workflowDefinition") : nullptr;
    const bool is_request = def != nullptr;
    if (!is_request) {
        def = &doc;
        request = nullptr;
    }

    ValidationOptions opts;
    opts.enabled = NodeTypeSet::all();
    const json::value* sim = request ? request->if_contains("isSimulation") : nullptr;
    opts.is_simulation = sim != nullptr && sim->is_bool() && sim->get_bool();
    opts.allow_inputs = size % 2 == 1;
    const FieldErrors errors = validate_workflow_definition(*def, opts);
    check_errors(errors, opts.base_path);

    const json::object* def_obj = def->if_object();
    const json::value* nodes_value = def_obj ? def_obj->if_contains("nodes") : nullptr;
    if (nodes_value != nullptr && nodes_value->is_object()) {
        const json::object& nodes = nodes_value->get_object();
        const Graph g = build_graph(nodes);
        check_graph(nodes, g, errors.empty());
    } else {
        FUZZ_CHECK(!errors.empty(), "a definition without a nodes object is invalid");
    }

    const json::value* values = request ? request->if_contains("propValues") : nullptr;
    const json::value* schema = def_obj ? def_obj->if_contains("inputSchema") : nullptr;
    check_errors(validate_prop_values(values, schema), "/propValues");

    if (is_request) {
        RunRequestContext ctx;
        ctx.organization_id = "org_fuzz";
        ctx.subject = "fuzz";
        ctx.enabled_types = NodeTypeSet::all();
        ctx.max_nodes = 1000;
        ctx.store = &store();
        ctx.has_upstream = [](std::uint64_t chain) { return chain == 1 || chain == 8453; };
        auto decoded = decode_run_request(doc, ctx);
        if (decoded) {
            const Run& run = decoded->run;
            FUZZ_CHECK(run.nodes.size() == decoded->plan.nodes.size(), "one node state per node");
            for (std::size_t i = 0; i < run.nodes.size(); ++i) {
                FUZZ_CHECK(run.nodes[i].id == decoded->plan.nodes[i].id, "nodes follow the graph");
            }
            FUZZ_CHECK(!run.nodes.empty() && run.nodes[0].id == "root", "root runs first");
            FUZZ_CHECK(run.organization_id == "org_fuzz", "the run is the caller's");
        } else {
            FUZZ_CHECK(!decoded.error().empty(), "a rejected request says why");
            check_errors(decoded.error(), "");
        }
    }
    return 0;
}
