// Compiling a run's expanded nodes into its plan.
#include "controller/run_plan.hpp"

#include <algorithm>
#include <system_error>

#include "controller/workflow_validation.hpp"

namespace forkrun::controller {

namespace json = boost::json;

namespace {

std::uint64_t literal_chain(const json::value& props) {
    const auto* p = props.if_object();
    const auto* chain = p ? p->if_contains("chainId") : nullptr;
    if (!chain || !chain->is_number()) {
        return 0;
    }
    std::error_code ec;
    const auto v = chain->to_number<std::uint64_t>(ec);
    return ec ? 0 : v;
}

}  // namespace

std::optional<std::size_t> RunPlan::find(std::string_view id) const {
    const auto it = index.find(id);
    if (it == index.end()) {
        return std::nullopt;
    }
    return it->second;
}

bool RunPlan::touches_no_chain(std::size_t max_nodes) const {
    if (nodes.size() > max_nodes) {
        return false;
    }
    return std::all_of(nodes.begin(), nodes.end(), [](const PlanNode& node) {
        if (node.type == NodeType::kWait) {
            const auto* p = node.props.if_object();
            return !(p && p->contains("blocks"));  // else it waits for a chain's head
        }
        return node.type == NodeType::kManual || node.type == NodeType::kAssert;
    });
}

RunPlan compile_plan(json::object nodes, const std::vector<NodeType>& types) {
    const Graph graph = build_graph(nodes);
    RunPlan plan;
    for (const auto& entry : nodes) {  // the definition's order, not the plan's
        const auto* p = entry.value().as_object().if_contains("props");
        const auto chain = p ? literal_chain(*p) : 0;
        if (chain != 0 &&
            std::find(plan.chains.begin(), plan.chains.end(), chain) == plan.chains.end()) {
            plan.chains.push_back(chain);
        }
    }
    plan.nodes.resize(graph.ids.size());
    for (std::size_t i = 0; i < graph.ids.size(); ++i) {
        PlanNode& node = plan.nodes[i];
        const auto it = nodes.find(graph.ids[i]);
        const auto at = static_cast<std::size_t>(it - nodes.begin());
        node.id = graph.ids[i];
        node.type = at < types.size() ? types[at] : NodeType::kManual;
        node.children = graph.children[i];
        node.parents = graph.parents[i];
        auto& object = it->value().as_object();
        if (auto* props = object.if_contains("props"); props && node.type != NodeType::kBlock) {
            node.props = std::move(*props);
        } else if (node.type != NodeType::kBlock) {
            node.props = json::object();
        }
    }
    plan.index = graph.index;
    return plan;
}

}  // namespace forkrun::controller
