// Node types that need no chain (manual, wait by seconds, assert), and dispatch to the others.
#include "controller/node_executor.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "controller/assert_compare.hpp"
#include "controller/transfer_node.hpp"
#include "forks/eth/hex.hpp"
#include "forks/eth/uint256.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::uint64_t chain_of(const json::object& p) {
    std::error_code ec;
    const auto* c = p.if_contains("chainId");
    const auto id = c && c->is_number() ? c->to_number<std::uint64_t>(ec) : 0;
    return ec ? 0 : id;
}

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
    const auto* blocks = p.if_contains("blocks");
    if (!blocks) {
        co_return json::value();
    }
    std::error_code ec;
    const auto n = blocks->is_number() ? blocks->to_number<std::uint64_t>(ec) : 0;
    const auto chain = chain_of(p);
    if (ec || n == 0 || chain == 0) {
        co_return ErrorInfo{"invalid_props", "wait blocks needs a positive integer and a chainId"};
    }
    if (!env.chains) {
        co_return ErrorInfo{"no_chains", "this server has no chain access configured"};
    }
    if (env.is_simulation) {
        // A fork mines them at once.
        json::array mine{eth::Uint256(n).to_hex()};
        auto mined =
            co_await env.chains->call(env.node_index, chain, "anvil_mine", std::move(mine));
        if (!mined) {
            co_return mined.error();
        }
        json::array none;  // named: GCC 12 mishandles brace temporaries in co_await
        auto head =
            co_await env.chains->call(env.node_index, chain, "eth_blockNumber", std::move(none));
        if (!head) {
            co_return head.error();
        }
        co_return json::object{{"blockNumber", *head}};
    }
    // A live chain: poll the head with backoff until it has moved `n` blocks.
    json::array none;  // named: GCC 12 mishandles brace temporaries in co_await
    auto start =
        co_await env.chains->call(env.node_index, chain, "eth_blockNumber", std::move(none));
    if (!start) {
        co_return start.error();
    }
    const auto first = start->is_string() ? eth::quantity_from_hex(start->get_string())
                                          : boost::system::result<std::uint64_t>(0);
    if (!first) {
        co_return ErrorInfo{"rpc_failed", "eth_blockNumber answered a non-quantity"};
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto delay = std::chrono::milliseconds(250);
    for (;;) {
        timer.expires_after(delay);
        co_await timer.async_wait(asio::use_awaitable);
        delay = std::min(delay * 2, std::chrono::milliseconds(4000));
        json::array again;
        auto now =
            co_await env.chains->call(env.node_index, chain, "eth_blockNumber", std::move(again));
        if (!now) {
            co_return now.error();
        }
        const auto h = now->is_string() ? eth::quantity_from_hex(now->get_string())
                                        : boost::system::result<std::uint64_t>(0);
        if (h && *h >= *first + n) {
            co_return json::object{{"blockNumber", *now}};
        }
    }
}

// setBalance: anvil_setBalance on the run's fork (validation keeps it out of live runs).
asio::awaitable<NodeResult> run_set_balance(const json::value& props, NodeEnv& env) {
    const auto& p = props.as_object();
    const auto* address = p.if_contains("address");
    const auto* value = p.if_contains("valueWei");
    if (!env.is_simulation) {
        co_return ErrorInfo{"simulation_only", "setBalance runs only in simulations"};
    }
    if (!address || !address->is_string() || !value || !value->is_string()) {
        co_return ErrorInfo{"invalid_props", "setBalance needs an address and a valueWei string"};
    }
    auto wei = eth::Uint256::from_decimal(value->get_string());
    if (!wei) {
        co_return ErrorInfo{"invalid_props", "valueWei must be a decimal string below 2^256"};
    }
    if (!env.chains) {
        co_return ErrorInfo{"no_chains", "this server has no chain access configured"};
    }
    const auto chain = chain_of(p);
    // The report needs the balance before and where on the chain it was set.
    std::optional<BalanceChange> change;
    std::uint64_t head = 0;
    if (env.transfers && env.transfers->simulation_report) {
        json::array none;  // named: GCC 12 mishandles brace temporaries in co_await
        auto h =
            co_await env.chains->call(env.node_index, chain, "eth_blockNumber", std::move(none));
        json::array at{*address, "latest"};
        auto b = co_await env.chains->call(env.node_index, chain, "eth_getBalance", std::move(at));
        if (!h || !b) {
            co_return h ? b.error() : h.error();
        }
        auto before = b->is_string() ? eth::Uint256::from_hex(b->get_string())
                                     : boost::system::result<eth::Uint256>(eth::Uint256());
        auto block = h->is_string() ? eth::quantity_from_hex(h->get_string())
                                    : boost::system::result<std::uint64_t>(0);
        if (before && block) {
            change = BalanceChange{std::string(address->get_string()), *before, *wei};
            head = *block;
        }
    }
    json::array params{*address, wei->to_hex()};
    auto r =
        co_await env.chains->call(env.node_index, chain, "anvil_setBalance", std::move(params));
    if (!r) {
        co_return r.error();
    }
    if (change) {
        env.chains->note_balance_set(chain, ChainPosition::after_block(head), *change);
    }
    co_return json::value();
}

// call: eth_call, answering the returned bytes as a hex string.
asio::awaitable<NodeResult> run_call(const json::value& props, NodeEnv& env) {
    const auto& p = props.as_object();
    json::object tx;
    for (const char* key : {"to", "data", "from"}) {
        if (const auto* v = p.if_contains(key)) {
            tx[key] = *v;
        }
    }
    json::value block = "latest";
    if (const auto* b = p.if_contains("block")) {
        block =
            b->is_number() ? json::value(eth::Uint256(b->to_number<std::uint64_t>()).to_hex()) : *b;
    }
    if (!env.chains) {
        co_return ErrorInfo{"no_chains", "this server has no chain access configured"};
    }
    json::array params{std::move(tx), std::move(block)};
    co_return co_await env.chains->call(env.node_index, chain_of(p), "eth_call", std::move(params));
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
        case NodeType::kSetBalance:
            co_return co_await run_set_balance(props, env);
        case NodeType::kCall:
            co_return co_await run_call(props, env);
        case NodeType::kTransfer:
        case NodeType::kSendTransaction:
            co_return co_await run_transaction(type, props, env);
        default:
            break;
    }
    co_return ErrorInfo{"unsupported_node_type",
                        "node type " + std::string(to_string(type)) + " is not supported here"};
}

}  // namespace forkrun::controller
