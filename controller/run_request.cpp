// POST /v1/runs decoding: field types, defaults, re-runs, then the workflow's own validation.
#include "controller/run_request.hpp"

#include <algorithm>

#include <set>
#include "controller/limits.hpp"
#include "controller/simulation_options.hpp"
#include "controller/templates.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

constexpr std::string_view kKnownKeys[] = {
    "workflowId",   "workflowVersion", "workflowDefinition", "propValues",
    "isSimulation", "isDustTest",      "simulationMode",     "chains",
    "sourceRunId",  "triggerSource",   "forkBlockNumbers",   "keepForksOnFailure"};

bool valid_name(std::string_view s, std::size_t max) {
    if (s.empty() || s.size() > max) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.' || c == ':';
    });
}

std::string too_many_chains(std::size_t n, std::size_t max) {
    return std::to_string(n) + " chains; a run may have at most " + std::to_string(max) + " (" +
           std::string(kMaxChainsPerRun) + ")";
}

// What validation of the definition alone cannot know: a live run's chains need an upstream, and
// value moved outside a simulation needs a configured signer.
// `nodes` are the expanded nodes and `types` theirs, in the order written (the problems' order).
void check_reachability(const json::object& nodes,
                        const std::vector<NodeType>& types,
                        const Run& run,
                        const RunRequestContext& ctx,
                        FieldErrors& errors) {
    for (std::size_t i = 0; i < nodes.size() && i < types.size(); ++i) {
        const auto& [id, node] = nodes.begin()[i];
        const auto type = types[i];
        const auto* props = node.as_object().if_contains("props");
        const auto* p = props ? props->if_object() : nullptr;
        const std::string path = node_pointer(id);
        const auto* chain = p ? p->if_contains("chainId") : nullptr;
        if (!run.is_simulation && chain && chain->is_number()) {
            std::error_code ec;
            const auto c = chain->to_number<std::uint64_t>(ec);
            if (!ec && !(ctx.has_upstream && ctx.has_upstream(c))) {
                errors.push_back(
                    {path + "/props/chainId",
                     "chain " + std::to_string(c) +
                         " has no configured upstream RPC, so a live run cannot use it"});
            }
        }
        if (type != NodeType::kTransfer && type != NodeType::kSendTransaction) {
            continue;
        }
        const auto* signer = p ? p->if_contains("signer") : nullptr;
        const std::string name = signer && signer->is_string() ? std::string(signer->get_string())
                                                               : std::string(Signers::kDefault);
        if (signer && signer->is_string() && has_templates(signer->get_string())) {
            continue;  // known at run time
        }
        const bool configured = ctx.signers && ctx.signers->find(name);
        const bool dev_key = run.is_simulation && name == Signers::kDefault;
        if (!configured && !dev_key) {
            errors.push_back({path, "no signer \"" + name + "\" is configured" +
                                        (run.is_simulation ? ""
                                                           : "; a live run cannot move value "
                                                             "without one")});
        }
    }
}

}  // namespace

boost::system::result<NewRun, FieldErrors> decode_run_request(const json::value& body,
                                                              const RunRequestContext& ctx) {
    FieldErrors errors;
    const auto* obj = body.if_object();
    if (!obj) {
        errors.push_back({"", "the body must be a JSON object"});
        return errors;
    }
    for (const auto& [key, value] : *obj) {
        if (std::find(std::begin(kKnownKeys), std::end(kKnownKeys), key) == std::end(kKnownKeys)) {
            errors.push_back(
                {pointer_append("", key), "unknown field \"" + std::string(key) + "\""});
        } else if (value.is_null() && key != "sourceRunId" && key != "simulationMode") {
            // Only those two may be null; any other null would be stored against its type.
            errors.push_back({pointer_append("", key), "must not be null (leave it out instead)"});
        }
    }
    auto field = [&](std::string_view key) -> const json::value* {
        const auto* v = obj->if_contains(key);
        return v && !v->is_null() ? v : nullptr;
    };

    NewRun out;
    Run& run = out.run;
    run.organization_id = ctx.organization_id;
    run.triggered_by = ctx.subject;

    // A re-run copies from its source whatever the request leaves out.
    std::optional<Run> source;
    if (const auto* v = field("sourceRunId")) {
        if (!v->is_string()) {
            errors.push_back({"/sourceRunId", "must be a string or null"});
        } else {
            auto rec = ctx.store ? ctx.store->find(ctx.organization_id, v->get_string()) : nullptr;
            if (!rec) {
                errors.push_back({"/sourceRunId", "no run \"" + std::string(v->get_string()) +
                                                      "\" in your organization"});
            } else {
                source = rec->snapshot();
                run.source_run_id = std::string(v->get_string());
            }
        }
    }

    if (const auto* v = field("workflowId")) {
        if (!v->is_string() || !valid_name(v->get_string(), 128)) {
            errors.push_back({"/workflowId", "must be 1-128 characters of [A-Za-z0-9._:-]"});
        } else {
            run.workflow_id = std::string(v->get_string());
        }
    } else if (source) {
        run.workflow_id = source->workflow_id;
    } else {
        errors.push_back({"/workflowId", "is required"});
    }

    if (const auto* v = field("workflowVersion")) {
        std::error_code ec;
        const auto n = v->is_number() ? v->to_number<std::int64_t>(ec) : 0;
        if (!v->is_number() || ec || n < 1) {
            errors.push_back({"/workflowVersion", "must be an integer >= 1"});
        } else {
            run.workflow_version = n;
        }
    } else if (source) {
        run.workflow_version = source->workflow_version;
    } else {
        errors.push_back({"/workflowVersion", "is required"});
    }

    auto read_bool = [&](std::string_view key, bool& dst, std::optional<bool> copied) {
        if (const auto* v = field(key)) {
            if (!v->is_bool()) {
                errors.push_back({pointer_append("", key), "must be a boolean"});
            } else {
                dst = v->get_bool();
            }
        } else if (copied) {
            dst = *copied;
        }
    };
    read_bool("isSimulation", run.is_simulation,
              source ? std::optional(source->is_simulation) : std::nullopt);
    read_bool("isDustTest", run.is_dust_test,
              source ? std::optional(source->is_dust_test) : std::nullopt);

    if (const auto* v = field("simulationMode")) {
        if (!v->is_string() || (v->get_string() != "fork" && v->get_string() != "pool")) {
            errors.push_back({"/simulationMode", "must be \"fork\", \"pool\" or null"});
        } else if (!run.is_simulation) {
            errors.push_back({"/simulationMode", "must be absent or null for a live run"});
        } else {
            run.simulation_mode =
                v->get_string() == "fork" ? SimulationMode::kFork : SimulationMode::kPool;
        }
    } else if (run.is_simulation) {
        run.simulation_mode =
            source && source->simulation_mode ? source->simulation_mode : SimulationMode::kFork;
    }

    if (const auto* v = field("triggerSource")) {
        if (!v->is_string() || !valid_name(v->get_string(), 64)) {
            errors.push_back({"/triggerSource", "must be 1-64 characters of [A-Za-z0-9._:-]"});
        } else {
            run.trigger_source = std::string(v->get_string());
        }
    }

    // The definition: the request's, else the source's without its controller-made expansions.
    json::value definition;
    if (const auto* v = field("workflowDefinition")) {
        definition = *v;
    } else if (source) {
        json::object def = source->workflow_definition;
        def.erase("blockExpansions");
        definition = std::move(def);
    } else {
        errors.push_back({"/workflowDefinition", "is required"});
    }
    ValidationOptions vopts;
    vopts.enabled = ctx.enabled_types;
    vopts.is_simulation = run.is_simulation;
    vopts.max_nodes = ctx.max_nodes;
    std::optional<std::vector<NodeType>> types;  // of a valid definition's nodes
    if (!definition.is_null()) {
        auto decoded = decode_workflow_definition(definition, vopts);
        if (decoded) {
            types = std::move(*decoded);
        } else {
            const FieldErrors problems = decoded.error();  // error() is a copy
            errors.insert(errors.end(), problems.begin(), problems.end());
        }
    }
    const auto* def_obj = definition.if_object();

    json::value prop_values;
    if (const auto* v = field("propValues")) {
        prop_values = *v;
    } else if (source) {
        prop_values = source->prop_values;
    }
    {
        const auto* schema = def_obj ? def_obj->if_contains("inputSchema") : nullptr;
        auto prop_errors =
            validate_prop_values(prop_values.is_null() ? nullptr : &prop_values, schema);
        errors.insert(errors.end(), prop_errors.begin(), prop_errors.end());
    }

    // Block nodes expand once the definition itself is valid; from here on the plan is what runs.
    std::optional<RunPlan> plan;
    json::object expansions;
    FieldErrors reach_errors;
    if (types) {
        Expansion expansion = expand_blocks(definition.as_object().at("nodes").as_object(), *types,
                                            ctx.blocks, run.is_simulation, ctx.max_nodes, errors);
        types->insert(types->end(), expansion.types.begin(), expansion.types.end());
        // Needed only if nothing else is wrong, but read before the plan takes the props.
        check_reachability(expansion.nodes, *types, run, ctx, reach_errors);
        plan = compile_plan(std::move(expansion.nodes), *types);
        expansions = std::move(expansion.expansions);
    }
    if (const auto* v = field("chains")) {
        const auto* arr = v->if_array();
        if (!arr) {
            errors.push_back({"/chains", "must be an array of chain ids"});
        } else if (arr->size() > ctx.max_chains) {
            // One problem, not one per id: a body can name tens of thousands.
            errors.push_back({"/chains", "names " + too_many_chains(arr->size(), ctx.max_chains)});
        } else {
            std::set<std::uint64_t> seen;
            for (std::size_t i = 0; i < arr->size(); ++i) {
                std::error_code ec;
                const auto& e = (*arr)[i];
                const auto id = e.is_number() ? e.to_number<std::uint64_t>(ec) : 0;
                if (!e.is_number() || ec || id == 0) {
                    errors.push_back({pointer_append("/chains", i), "must be a positive integer"});
                } else if (!seen.insert(id).second) {
                    errors.push_back(
                        {pointer_append("/chains", i), "chain " + std::to_string(id) + " twice"});
                } else {
                    run.chains.push_back(id);
                }
            }
        }
    } else if (source && !field("workflowDefinition")) {
        run.chains = source->chains;
        if (run.chains.size() > ctx.max_chains) {
            errors.push_back({"/chains", "the source run has " +
                                             too_many_chains(run.chains.size(), ctx.max_chains)});
        }
    } else if (plan) {
        run.chains = plan->chains;
        if (run.chains.size() > ctx.max_chains) {
            errors.push_back({"/chains", "the nodes name " +
                                             too_many_chains(run.chains.size(), ctx.max_chains)});
        }
    }

    decode_simulation_options(*obj, source, ctx.has_upstream, run, errors);
    if (errors.empty()) {
        errors = std::move(reach_errors);
    }
    if (!errors.empty()) {
        return errors;
    }
    run.workflow_definition = std::move(definition.as_object());
    run.workflow_definition["blockExpansions"] = std::move(expansions);
    run.prop_values = prop_values.is_object() ? std::move(prop_values.as_object()) : json::object();
    out.plan = std::move(*plan);
    out.plan.chains = run.chains;
    run.nodes.reserve(out.plan.nodes.size());
    for (const auto& node : out.plan.nodes) {
        NodeState n;
        n.id = node.id;
        run.nodes.push_back(std::move(n));
    }
    return out;
}

}  // namespace forkrun::controller
