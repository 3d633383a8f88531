// The node graph of a workflowDefinition: its cycle and reachability checks, and its Graph.
#include <algorithm>
#include <functional>
#include <queue>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>

#include "controller/workflow_validation.hpp"
#include "controller/workflow_validation_internal.hpp"

namespace forkrun::controller {

namespace json = boost::json;

using detail::kNone;
using detail::kRoot;
using detail::view;

namespace {

// Nodes named in a cycle message before the rest is elided.
constexpr std::size_t kMaxCycleShown = 16;

/// Children lists by position in `nodes`, without missing ids, self-edges or duplicates.
std::vector<std::vector<std::size_t>> edges_of(const json::object& nodes) {
    std::vector<std::vector<std::size_t>> children(nodes.size());
    std::vector<std::size_t> last_parent(nodes.size(), kNone);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const json::object* node = nodes.begin()[i].value().if_object();
        const json::value* kids = node == nullptr ? nullptr : node->if_contains("children");
        const json::array* list = kids == nullptr ? nullptr : kids->if_array();
        if (list == nullptr) {
            continue;
        }
        for (const json::value& kid : *list) {
            const json::string* id = kid.if_string();
            const auto it = id == nullptr ? nodes.end() : nodes.find(view(*id));
            if (it == nodes.end()) {
                continue;
            }
            const auto c = static_cast<std::size_t>(it - nodes.begin());
            if (c != i && last_parent[c] != i) {
                last_parent[c] = i;
                children[i].push_back(c);
            }
        }
    }
    return children;
}

/// The strongly connected components with more than one node (Tarjan, iterative).
std::vector<std::vector<std::size_t>> cyclic_components(
    const std::vector<std::vector<std::size_t>>& children) {
    const std::size_t n = children.size();
    std::vector<std::size_t> order(n, kNone);
    std::vector<std::size_t> low(n, 0);
    std::vector<bool> on_stack(n, false);
    std::vector<std::size_t> stack;
    struct Frame {
        std::size_t node;
        std::size_t next_child;
    };
    std::vector<Frame> frames;
    std::vector<std::vector<std::size_t>> components;
    std::size_t counter = 0;
    auto enter = [&](std::size_t v) {
        order[v] = low[v] = counter++;
        stack.push_back(v);
        on_stack[v] = true;
        frames.push_back({v, 0});
    };
    for (std::size_t start = 0; start < n; ++start) {
        if (order[start] != kNone) {
            continue;
        }
        enter(start);
        while (!frames.empty()) {
            const std::size_t v = frames.back().node;
            if (frames.back().next_child < children[v].size()) {
                const std::size_t w = children[v][frames.back().next_child++];
                if (order[w] == kNone) {
                    enter(w);
                } else if (on_stack[w]) {
                    low[v] = std::min(low[v], order[w]);
                }
                continue;
            }
            frames.pop_back();
            if (!frames.empty()) {
                const std::size_t parent = frames.back().node;
                low[parent] = std::min(low[parent], low[v]);
            }
            if (low[v] != order[v]) {
                continue;
            }
            std::vector<std::size_t> component;
            std::size_t w = kNone;
            do {
                w = stack.back();
                stack.pop_back();
                on_stack[w] = false;
                component.push_back(w);
            } while (w != v);
            if (component.size() > 1) {
                components.push_back(std::move(component));
            }
        }
    }
    return components;
}

/// "a -> b -> a": a shortest cycle through the component's smallest id (breadth-first search
/// inside the component), so the message is short and the same for the same input.
std::string describe_cycle(const json::object& nodes,
                           const std::vector<std::vector<std::size_t>>& children,
                           const std::vector<std::size_t>& component,
                           std::vector<std::size_t>& member_of,
                           std::vector<std::size_t>& previous,
                           std::size_t component_number) {
    auto id = [&](std::size_t i) { return std::string_view(nodes.begin()[i].key()); };
    std::size_t start = component.front();
    for (std::size_t v : component) {
        member_of[v] = component_number;
        previous[v] = kNone;
        if (id(v) < id(start)) {
            start = v;
        }
    }
    std::queue<std::size_t> queue;
    queue.push(start);
    std::size_t last = kNone;
    while (!queue.empty() && last == kNone) {
        const std::size_t u = queue.front();
        queue.pop();
        for (std::size_t w : children[u]) {
            if (member_of[w] != component_number) {
                continue;
            }
            if (w == start) {
                last = u;
                break;
            }
            if (previous[w] == kNone) {
                previous[w] = u;
                queue.push(w);
            }
        }
    }
    std::vector<std::size_t> cycle;
    for (std::size_t v = last; v != kNone && v != start; v = previous[v]) {
        cycle.push_back(v);
    }
    cycle.push_back(start);
    std::reverse(cycle.begin(), cycle.end());
    std::string message = "nodes form a cycle: ";
    for (std::size_t i = 0; i < cycle.size() && i < kMaxCycleShown; ++i) {
        message.append(id(cycle[i])).append(" -> ");
    }
    if (cycle.size() > kMaxCycleShown) {
        message.append("... (")
            .append(std::to_string(cycle.size() - kMaxCycleShown))
            .append(" more) -> ");
    }
    message.append(id(start));
    return message;
}

}  // namespace

void detail::check_graph(const json::object& nodes,
                         std::string_view nodes_path,
                         FieldErrors& errors) {
    const std::vector<std::vector<std::size_t>> children = edges_of(nodes);
    const std::size_t n = nodes.size();

    const std::vector<std::vector<std::size_t>> components = cyclic_components(children);
    std::vector<std::pair<std::string_view, std::string>> cycles;
    std::vector<std::size_t> member_of(n, kNone);
    std::vector<std::size_t> previous(n, kNone);
    for (std::size_t c = 0; c < components.size(); ++c) {
        std::string message =
            describe_cycle(nodes, children, components[c], member_of, previous, c);
        std::string_view smallest = nodes.begin()[components[c].front()].key();
        for (std::size_t v : components[c]) {
            smallest = std::min(smallest, std::string_view(nodes.begin()[v].key()));
        }
        cycles.emplace_back(smallest, std::move(message));
    }
    std::sort(cycles.begin(), cycles.end());
    for (auto& [smallest, message] : cycles) {
        errors.push_back({std::string(nodes_path), std::move(message)});
    }

    const auto root = nodes.find(kRoot);
    if (root == nodes.end()) {
        errors.push_back({pointer_append(nodes_path, kRoot),
                          "a node \"root\" of type manual is required: it triggers the run"});
        return;
    }
    std::vector<bool> reached(n, false);
    std::vector<std::size_t> pending = {static_cast<std::size_t>(root - nodes.begin())};
    reached[pending.front()] = true;
    while (!pending.empty()) {
        const std::size_t u = pending.back();
        pending.pop_back();
        for (std::size_t w : children[u]) {
            if (!reached[w]) {
                reached[w] = true;
                pending.push_back(w);
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (!reached[i]) {
            errors.push_back({pointer_append(nodes_path, nodes.begin()[i].key()),
                              "node is not reachable from root"});
        }
    }
}

std::optional<std::size_t> Graph::find(std::string_view id) const {
    const auto it = index.find(id);
    if (it == index.end()) {
        return std::nullopt;
    }
    return it->second;
}

Graph build_graph(const json::object& nodes) {
    const std::size_t n = nodes.size();
    const std::vector<std::vector<std::size_t>> children = edges_of(nodes);
    auto id = [&](std::size_t i) { return std::string_view(nodes.begin()[i].key()); };

    std::vector<std::size_t> in_degree(n, 0);
    for (const auto& list : children) {
        for (std::size_t c : list) {
            ++in_degree[c];
        }
    }
    // Kahn's algorithm; the ready node that sorts first goes next, root before any other.
    using Ready = std::tuple<bool, std::string_view, std::size_t>;
    std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready;
    for (std::size_t i = 0; i < n; ++i) {
        if (in_degree[i] == 0) {
            ready.emplace(id(i) != kRoot, id(i), i);
        }
    }
    std::vector<std::size_t> order;
    order.reserve(n);
    std::vector<bool> placed(n, false);
    while (!ready.empty()) {
        const std::size_t u = std::get<2>(ready.top());
        ready.pop();
        order.push_back(u);
        placed[u] = true;
        for (std::size_t c : children[u]) {
            if (--in_degree[c] == 0) {
                ready.emplace(id(c) != kRoot, id(c), c);
            }
        }
    }
    if (order.size() < n) {
        std::vector<std::size_t> rest;
        for (std::size_t i = 0; i < n; ++i) {
            if (!placed[i]) {
                rest.push_back(i);
            }
        }
        std::sort(rest.begin(), rest.end(),
                  [&](std::size_t a, std::size_t b) { return id(a) < id(b); });
        order.insert(order.end(), rest.begin(), rest.end());
    }

    std::vector<std::size_t> position(n, 0);
    for (std::size_t p = 0; p < n; ++p) {
        position[order[p]] = p;
    }
    Graph graph;
    graph.ids.reserve(n);
    graph.children.resize(n);
    graph.parents.resize(n);
    for (std::size_t p = 0; p < n; ++p) {
        graph.ids.emplace_back(id(order[p]));
        graph.index.emplace(graph.ids.back(), p);
        for (std::size_t c : children[order[p]]) {
            graph.children[p].push_back(position[c]);
            graph.parents[position[c]].push_back(p);
        }
    }
    return graph;
}

std::vector<std::string> topological_order(const json::object& nodes) {
    return build_graph(nodes).ids;
}

}  // namespace forkrun::controller
