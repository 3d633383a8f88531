// Two tracer calls per transaction: callTracer (with logs) for the trace and the revert data,
// prestateTracer in diff mode for the state and balances.
#include "controller/tx_report.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

#include "controller/balance_changes.hpp"
#include "controller/revert_reason.hpp"
#include "forks/eth/hex.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::uint64_t receipt_quantity(const json::value& receipt, std::string_view key) {
    const auto* o = receipt.if_object();
    const auto* v = o ? o->if_contains(key) : nullptr;
    if (!v || !v->is_string()) {
        return 0;
    }
    auto q = eth::quantity_from_hex(v->get_string());
    return q ? *q : 0;
}

json::object tracer(std::string_view name, json::object config) {
    return json::object{{"tracer", name}, {"tracerConfig", std::move(config)}};
}

}  // namespace

std::optional<std::vector<std::uint8_t>> revert_data(const json::value& call_frame) {
    const auto* f = call_frame.if_object();
    if (!f || !f->contains("error")) {
        return std::nullopt;
    }
    const auto* output = f->if_contains("output");
    if (!output || !output->is_string()) {
        return std::vector<std::uint8_t>();
    }
    auto bytes = eth::from_hex(output->get_string());
    return bytes ? std::optional(std::move(*bytes)) : std::vector<std::uint8_t>();
}

asio::awaitable<boost::system::result<std::optional<json::object>, ErrorInfo>> report_transaction(
    NodeEnv& env,
    std::uint64_t chain,
    const std::string& tx_hash,
    const json::value& receipt,
    json::object& out) {
    std::string problems;
    // Both tracers at once: each replays the transaction, so the node waits for one replay.
    const auto ex = co_await asio::this_coro::executor;
    json::array call_params{tx_hash, tracer("callTracer", json::object{{"withLog", true}})};
    json::array diff_params{tx_hash, tracer("prestateTracer", json::object{{"diffMode", true}})};
    auto trace_op = asio::co_spawn(
        ex,
        env.chains->call(env.node_index, chain, "debug_traceTransaction", std::move(call_params)),
        asio::deferred);
    auto diff_op = asio::co_spawn(
        ex,
        env.chains->call(env.node_index, chain, "debug_traceTransaction", std::move(diff_params)),
        asio::deferred);
    auto group = asio::experimental::make_parallel_group(std::move(trace_op), std::move(diff_op));
    auto [order, trace_error, trace, diff_error, diff] = co_await std::move(group).async_wait(
        asio::experimental::wait_for_all(), asio::use_awaitable);
    (void)order;
    // A cancel (or anything thrown) ends the node as it would have without the report.
    for (const auto& e : {trace_error, diff_error}) {
        if (e) {
            std::rethrow_exception(e);
        }
    }
    for (const auto* r : {&trace, &diff}) {
        if (!*r && r->error().code == RunErrc::kCancelled) {
            co_return r->error();
        }
    }
    out["trace"] = trace ? *trace : json::value();
    if (!trace) {
        problems = "callTracer: " + trace.error().message;
    }
    if (diff) {
        out["stateDiff"] = present_state_diff(*diff);
        auto changes = balance_changes(*diff);
        out["balanceChanges"] = balance_changes_json(changes);
        const ChainPosition at{receipt_quantity(receipt, "blockNumber"),
                               receipt_quantity(receipt, "transactionIndex")};
        env.chains->note_transaction(chain, tx_hash, at, changes);
    } else {
        out["stateDiff"] = nullptr;
        out["balanceChanges"] = nullptr;
        problems += (problems.empty() ? "" : "; ") + ("prestateTracer: " + diff.error().message);
    }
    std::optional<json::object> reason;
    const auto* r = receipt.if_object();
    const auto* status = r ? r->if_contains("status") : nullptr;
    if (status && *status != "0x1") {
        auto data = trace ? revert_data(*trace) : std::nullopt;
        reason = decode_revert(data ? *data : std::vector<std::uint8_t>());
        out["revertReason"] = *reason;
    }
    if (!problems.empty()) {
        out["reportError"] = problems;
    }
    co_return reason;
}

}  // namespace forkrun::controller
