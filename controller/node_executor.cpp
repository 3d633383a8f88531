// Node types that need no chain (manual, wait by seconds, assert), and dispatch to the others.
#include "controller/node_executor.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "controller/assert_compare.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

asio::awaitable<NodeResult> run_wait(const json::value& props, NodeEnv& env) {
    const auto& p = props.as_object();
    const auto* seconds = p.if_contains("seconds");
    if (env.mark_waiting) {
        env.mark_waiting();
    }
    if (seconds && seconds->is_number()) {
        const double s = seconds->to_number<double>();
        if (!(s >= 0 && s <= 86400)) {
            co_return ErrorInfo{"invalid_props", "wait seconds must be between 0 and 86400"};
        }
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(s * 1e6)));
        co_await timer.async_wait(asio::use_awaitable);
    } else if (seconds) {
        co_return ErrorInfo{"invalid_props", "wait seconds must be a number"};
    }
    co_return json::value();
}

NodeResult run_assert(const json::value& props) {
    const auto& p = props.as_object();
    const json::value value = p.contains("value") ? p.at("value") : json::value();
    for (auto op : {AssertOp::kEquals, AssertOp::kNotEquals, AssertOp::kGte, AssertOp::kLte}) {
        const auto* expected = p.if_contains(to_string(op));
        if (!expected) {
            continue;
        }
        if (!assert_holds(value, op, *expected)) {
            return ErrorInfo{"assertion_failed", "assert " + std::string(to_string(op)) +
                                                     " failed: value " + json::serialize(value) +
                                                     ", expected " + json::serialize(*expected)};
        }
        return json::value{{"value", value}};
    }
    return ErrorInfo{"invalid_props", "assert needs one of equals, notEquals, gte, lte"};
}

std::uint64_t chain_of(const json::object& p) {
    std::error_code ec;
    const auto* c = p.if_contains("chainId");
    const auto id = c && c->is_number() ? c->to_number<std::uint64_t>(ec) : 0;
    return ec ? 0 : id;
}

asio::awaitable<NodeResult> run_rpc(const json::value& props, NodeEnv& env) {
    const auto& p = props.as_object();
    const auto chain = chain_of(p);
    const auto* method = p.if_contains("method");
    if (chain == 0 || !method || !method->is_string() || method->get_string().empty()) {
        co_return ErrorInfo{"invalid_props", "rpc needs a positive chainId and a method"};
    }
    json::array params;
    if (const auto* ps = p.if_contains("params")) {
        if (!ps->is_array()) {
            co_return ErrorInfo{"invalid_props", "rpc params must be an array"};
        }
        params = ps->get_array();
    }
    if (!env.chains) {
        co_return ErrorInfo{"no_chains", "this server has no chain access configured"};
    }
    co_return co_await env.chains->call(env.node_index, chain, std::string(method->get_string()),
                                        std::move(params));
}

}  // namespace

asio::awaitable<NodeResult> execute_node(NodeType type, const json::value& props, NodeEnv& env) {
    switch (type) {
        case NodeType::kManual:
            co_return json::value();
        case NodeType::kWait:
            co_return co_await run_wait(props, env);
        case NodeType::kAssert:
            co_return run_assert(props);
        case NodeType::kRpc:
            co_return co_await run_rpc(props, env);
        default:
            break;
    }
    co_return ErrorInfo{"unsupported_node_type",
                        "node type " + std::string(to_string(type)) + " is not supported here"};
}

}  // namespace forkrun::controller
