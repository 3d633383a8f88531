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

asio::awaitable<NodeResult> run_wait(const WaitProps& p, NodeEnv& env) {
    if (env.mark_waiting) {
        env.mark_waiting();
    }
    if (p.time) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(*p.time);
        co_await timer.async_wait(asio::use_awaitable);
    }
    if (!p.blocks) {
        co_return json::value();
    }
    const auto n = *p.blocks;
    const auto chain = p.chain_id;
    if (!env.chains) {
        co_return ErrorInfo{RunErrc::kNoChains, "this server has no chain access configured"};
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
        co_return ErrorInfo{RunErrc::kRpcFailed, "eth_blockNumber answered a non-quantity"};
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
asio::awaitable<NodeResult> run_set_balance(const SetBalanceProps& p, NodeEnv& env) {
    if (!env.is_simulation) {
        co_return ErrorInfo{RunErrc::kSimulationOnly, "setBalance runs only in simulations"};
    }
    if (!env.chains) {
        co_return ErrorInfo{RunErrc::kNoChains, "this server has no chain access configured"};
    }
    const auto* wei = &p.value_wei;
    const json::value address(p.address);
    const auto chain = p.chain_id;
    // The report needs the balance before and where on the chain it was set.
    std::optional<BalanceChange> change;
    std::uint64_t head = 0;
    if (env.transfers && env.transfers->simulation_report) {
        json::array none;  // named: GCC 12 mishandles brace temporaries in co_await
        auto h =
            co_await env.chains->call(env.node_index, chain, "eth_blockNumber", std::move(none));
        json::array at{address, "latest"};
        auto b = co_await env.chains->call(env.node_index, chain, "eth_getBalance", std::move(at));
        if (!h || !b) {
            co_return h ? b.error() : h.error();
        }
        auto before = b->is_string() ? eth::Uint256::from_hex(b->get_string())
                                     : boost::system::result<eth::Uint256>(eth::Uint256());
        auto block = h->is_string() ? eth::quantity_from_hex(h->get_string())
                                    : boost::system::result<std::uint64_t>(0);
        if (before && block) {
            change = BalanceChange{p.address, *before, *wei};
            head = *block;
        }
    }
    json::array params{address, wei->to_hex()};
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
asio::awaitable<NodeResult> run_call(const CallProps& p, NodeEnv& env) {
    if (!env.chains) {
        co_return ErrorInfo{RunErrc::kNoChains, "this server has no chain access configured"};
    }
    json::array params{p.tx, p.block};
    co_return co_await env.chains->call(env.node_index, p.chain_id, "eth_call", std::move(params));
}

NodeResult run_assert(const AssertProps& p) {
    const std::string_view op = to_string(p.op);
    if (!assert_holds(p.value, p.op, p.expected)) {
        return ErrorInfo{RunErrc::kAssertionFailed, "assert " + std::string(op) +
                                                        " failed: value " +
                                                        json::serialize(p.value) + ", expected " +
                                                        json::serialize(p.expected)};
    }
    return json::value{{"value", p.value}};
}

asio::awaitable<NodeResult> run_rpc(const RpcProps& p, NodeEnv& env) {
    if (!env.chains) {
        co_return ErrorInfo{RunErrc::kNoChains, "this server has no chain access configured"};
    }
    std::string method = p.method;  // named copies: GCC 12 mishandles temporaries in co_await
    json::array params = p.params;
    co_return co_await env.chains->call(env.node_index, p.chain_id, std::move(method),
                                        std::move(params));
}

}  // namespace

asio::awaitable<NodeResult> execute_node(NodeType type, const NodeProps& props, NodeEnv& env) {
    if (const auto* p = std::get_if<WaitProps>(&props)) {
        co_return co_await run_wait(*p, env);
    }
    if (const auto* p = std::get_if<AssertProps>(&props)) {
        co_return run_assert(*p);
    }
    if (const auto* p = std::get_if<RpcProps>(&props)) {
        co_return co_await run_rpc(*p, env);
    }
    if (const auto* p = std::get_if<SetBalanceProps>(&props)) {
        co_return co_await run_set_balance(*p, env);
    }
    if (const auto* p = std::get_if<CallProps>(&props)) {
        co_return co_await run_call(*p, env);
    }
    if (const auto* p = std::get_if<TransactionProps>(&props)) {
        co_return co_await run_transaction(*p, env);
    }
    if (type == NodeType::kManual) {
        co_return json::value();
    }
    co_return ErrorInfo{RunErrc::kUnsupportedNodeType,
                        "node type " + std::string(to_string(type)) + " is not supported here"};
}

}  // namespace forkrun::controller
