// The walk is bounded (kMaxChangeBlocks) and never fails the run: what could not be read is said
// in the chain's totals (`complete: false`, `error`).
#include "controller/fork_changes.hpp"

#include <algorithm>
#include <set>

#include <boost/asio/use_awaitable.hpp>

#include "forks/eth/hex.hpp"
#include "forks/upstream_redaction.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;
using eth::Uint256;

namespace {

// anvil answers trace_filter for at most this many blocks at once.
constexpr std::uint64_t kTraceFilterBlocks = 300;

std::uint64_t number(const json::value* v) {
    if (!v) {
        return 0;
    }
    if (v->is_string()) {
        auto q = eth::quantity_from_hex(v->get_string());
        return q ? *q : 0;
    }
    std::error_code ec;
    return v->is_number() ? v->to_number<std::uint64_t>(ec) : 0;
}

struct TxAt {
    std::string hash;
    ChainPosition at;
};

}  // namespace

asio::awaitable<ChainReport> collect_chain_changes(ForkCall call,
                                                   std::uint64_t start_block,
                                                   ChainChanges& changes) {
    ChainReport out;
    std::string error;
    bool complete = true;
    json::array none;
    auto head_v = co_await call("eth_blockNumber", std::move(none));
    std::uint64_t head = start_block;
    if (head_v && head_v->is_string()) {
        head = number(&*head_v);
    } else {
        complete = false;
        error = head_v ? "eth_blockNumber answered a non-quantity" : head_v.error().message;
    }
    std::uint64_t last = head;
    if (head > start_block && head - start_block > kMaxChangeBlocks) {
        last = start_block + kMaxChangeBlocks;
        complete = false;
        error = "the fork mined " + std::to_string(head - start_block) + " blocks; the first " +
                std::to_string(kMaxChangeBlocks) + " were walked";
    }
    // Every transaction of the blocks, in chain order, that no node reported.
    std::vector<TxAt> unknown;
    std::set<std::string> seen;
    for (std::uint64_t from = start_block + 1; from <= last; from += kTraceFilterBlocks) {
        const std::uint64_t to = std::min(last, from + kTraceFilterBlocks - 1);
        json::array params{json::object{{"fromBlock", eth::to_hex_quantity(from)},
                                        {"toBlock", eth::to_hex_quantity(to)}}};
        auto traces = co_await call("trace_filter", std::move(params));
        if (!traces || !traces->is_array()) {
            complete = false;
            error = traces ? "trace_filter answered a non-array" : traces.error().message;
            break;
        }
        for (const auto& t : traces->get_array()) {
            const auto* o = t.if_object();
            const auto* hash = o ? o->if_contains("transactionHash") : nullptr;
            if (!hash || !hash->is_string()) {
                continue;
            }
            const auto h = lower_address(hash->get_string());
            if (changes.knows(h) || !seen.insert(h).second) {
                continue;
            }
            unknown.push_back(
                TxAt{h, ChainPosition{number(o->if_contains("blockNumber")),
                                      number(o->if_contains("transactionPosition"))}});
        }
    }
    for (const auto& tx : unknown) {
        json::array params{tx.hash,
                           json::object{{"tracer", "prestateTracer"},
                                        {"tracerConfig", json::object{{"diffMode", true}}}}};
        auto diff = co_await call("debug_traceTransaction", std::move(params));
        if (!diff) {
            complete = false;
            error = "tracing " + tx.hash + ": " + diff.error().message;
            continue;
        }
        changes.add_transaction(tx.hash, tx.at, balance_changes(*diff));
    }
    // Cheat codes' addresses: their balance now, and at the start block when no event says.
    std::map<std::string, Uint256> start, final_balances;
    for (const auto& address : changes.touched()) {
        for (const bool at_start : {true, false}) {
            if (at_start && changes.has_events(address)) {
                continue;
            }
            json::array params{
                address, at_start ? eth::to_hex_quantity(start_block) : std::string("latest")};
            auto b = co_await call("eth_getBalance", std::move(params));
            // An answer that is not a hex string is no balance (not a zero one).
            auto q = b && b->is_string() ? Uint256::from_hex(b->get_string())
                                         : boost::system::result<Uint256>(
                                               make_error_code(eth::Uint256Error::kNotAString));
            if (!b || !q) {
                complete = false;
                error = "eth_getBalance of " + address + ": " +
                        (b ? std::string("not a quantity") : b.error().message);
                continue;
            }
            (at_start ? start : final_balances)[address] = *q;
        }
    }
    out.accounts = changes.net(start, final_balances, out.totals);
    out.totals["startBlock"] = start_block;
    out.totals["headBlock"] = head;
    out.totals["complete"] = complete;
    out.totals["error"] = complete ? json::value() : json::value(error);
    co_return out;
}

ForkCall metered_fork_call(forks::ForkManager& forks,
                           std::shared_ptr<RunRecord> record,
                           std::string fork_id,
                           std::string url,
                           std::uint64_t chain_id,
                           std::size_t max_reply_bytes) {
    return [&forks, record = std::move(record), fork_id = std::move(fork_id), url = std::move(url),
            chain_id, max_reply_bytes](std::string method, json::array params)
               -> asio::awaitable<boost::system::result<json::value, ErrorInfo>> {
        record->charge_fork(fork_id, forks.cu().cost(method));
        // A named request: GCC 12 destroys brace-initialized temporaries in co_await twice.
        forks::RpcRequest req{url,
                              method,
                              std::move(params),
                              forks.config().rpc_timeout,
                              "chain " + std::to_string(chain_id),
                              max_reply_bytes};
        auto res = co_await forks::async_call(forks.rpc(), std::move(req), asio::use_awaitable);
        if (!res) {
            co_return ErrorInfo{RunErrc::kRpcFailed,
                                forks::redact_upstreams(res.error().message, forks.config())};
        }
        co_return std::move(*res);
    };
}

asio::awaitable<void> record_chain_changes(ForkCall call,
                                           std::uint64_t chain_id,
                                           std::uint64_t start_block,
                                           ChainChanges& changes,
                                           RunRecord& record) {
    auto report = co_await collect_chain_changes(std::move(call), start_block, changes);
    const auto key = std::to_string(chain_id);
    record.update([&](Run& r) {
        r.changes[key] = std::move(report.accounts);
        r.change_totals[key] = std::move(report.totals);
    });
}

}  // namespace forkrun::controller
