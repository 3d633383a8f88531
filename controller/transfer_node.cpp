// Fees from the chain, gas estimated unless given, the nonce from the book (the run's own in a
// simulation, the controller's for live runs), signed here, receipt polled with backoff until a
// timeout or a cancel.
#include "controller/transfer_node.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <optional>

#include "controller/nonce_book.hpp"
#include "controller/revert_reason.hpp"
#include "controller/tx_report.hpp"
#include "forks/eth/address.hpp"
#include "forks/eth/eip1559.hpp"
#include "forks/eth/hex.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::optional<std::uint64_t> quantity(const json::value& v) {
    if (!v.is_string()) {
        return std::nullopt;
    }
    auto q = eth::quantity_from_hex(v.get_string());
    return q ? std::optional(*q) : std::nullopt;
}

std::optional<eth::Uint256> big_quantity(const json::value& v) {
    if (!v.is_string()) {
        return std::nullopt;
    }
    auto q = eth::Uint256::from_hex(v.get_string());
    return q ? std::optional(*q) : std::nullopt;
}

// A send refused because its nonce is used or queued by another transaction already.
bool nonce_taken(const ErrorInfo& e) {
    if (e.code != RunErrc::kRpcError) {
        return false;
    }
    std::string m = e.message;
    std::transform(m.begin(), m.end(), m.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return m.find("nonce too low") != std::string::npos ||
           m.find("replacement transaction underpriced") != std::string::npos ||
           m.find("nonce has already been used") != std::string::npos;
}

// A send refused because this very transaction is known already: it was sent (a signed
// transaction's hash names it), so it must not be signed again with another nonce.
bool nonce_already_sent(const ErrorInfo& e) {
    return e.code == RunErrc::kRpcError &&
           (e.message.find("already known") != std::string::npos ||
            e.message.find("AlreadyKnown") != std::string::npos ||
            e.message.find("already imported") != std::string::npos);
}

// `fee` raised by a quarter and one wei: above the 10% geth and anvil ask of a replacement.
std::optional<eth::Uint256> raised(const eth::Uint256& fee) {
    auto up = checked_add(fee, checked_add(divided_by(fee, 4), 1).value());
    return up ? std::optional(*up) : std::nullopt;
}

// Sends refused as stale before the node gives up.
constexpr int kNonceAttempts = 3;

}  // namespace

asio::awaitable<NodeResult> run_transaction(const TransactionProps& p, NodeEnv& env) {
    if (!env.chains || !env.transfers || !env.nonces) {
        co_return ErrorInfo{RunErrc::kNoChains, "this server has no chain access configured"};
    }
    const auto& settings = *env.transfers;
    const std::uint64_t chain = p.chain_id;
    const auto* to = &p.to;
    const auto* requested = &p.value_wei;
    const eth::Uint256 sent =
        env.is_dust_test ? std::min(*requested, settings.dust_wei) : *requested;
    std::vector<std::uint8_t> data = p.data;
    const std::string& signer_name = p.signer;
    const eth::PrivateKey* key = settings.signers ? settings.signers->find(signer_name) : nullptr;
    if (!key && env.is_simulation && (signer_name.empty() || signer_name == Signers::kDefault)) {
        key = &Signers::simulation_default();
    }
    if (!key) {
        co_return ErrorInfo{
            RunErrc::kNoSigner,
            "no signer \"" + (signer_name.empty() ? std::string(Signers::kDefault) : signer_name) +
                "\" is configured"};
    }
    const std::string from = key->address().to_checksum();
    const std::string to_hex = to->to_checksum();

    // Fees from the chain: tip capped by configuration, max fee twice the price plus the tip.
    json::array no_params;
    auto price_v =
        co_await env.chains->call(env.node_index, chain, "eth_gasPrice", std::move(no_params));
    if (!price_v) {
        co_return price_v.error();
    }
    auto price = big_quantity(*price_v);
    if (!price) {
        co_return ErrorInfo{RunErrc::kRpcFailed, "eth_gasPrice answered a non-quantity"};
    }
    const eth::Uint256 tip = std::min(*price, settings.max_tip_wei);
    auto doubled = checked_add(*price, *price);
    auto max_fee = doubled ? checked_add(*doubled, tip) : doubled;
    if (!max_fee) {
        co_return ErrorInfo{RunErrc::kRpcFailed, "eth_gasPrice is out of range"};
    }

    std::uint64_t gas = 0;
    if (p.gas_limit) {
        gas = *p.gas_limit;
    } else {
        json::object call{
            {"from", from}, {"to", to_hex}, {"value", sent.to_hex()}, {"data", eth::to_hex(data)}};
        json::array params{std::move(call)};
        auto est =
            co_await env.chains->call(env.node_index, chain, "eth_estimateGas", std::move(params));
        if (!est) {
            co_return est.error();
        }
        auto estimated = quantity(*est);
        if (!estimated) {
            co_return ErrorInfo{RunErrc::kRpcFailed, "eth_estimateGas answered a non-quantity"};
        }
        gas = *estimated;
    }

    // The nonce last, right before the send, so little can fail while it is held. The book is
    // the run's own in a simulation, the controller's for live runs (API.md "Nonces").
    const NonceKey book_key{from, chain};
    PendingCount pending = [&]() -> asio::awaitable<NonceResult> {
        json::array params{from, "pending"};
        auto count = co_await env.chains->call(env.node_index, chain, "eth_getTransactionCount",
                                               std::move(params));
        if (!count) {
            co_return count.error();
        }
        auto n = quantity(*count);
        if (!n) {
            co_return ErrorInfo{RunErrc::kRpcFailed,
                                "eth_getTransactionCount answered a non-quantity"};
        }
        co_return *n;
    };
    eth::Eip1559Tx tx;
    tx.chain_id = chain;
    tx.max_priority_fee_per_gas = tip;
    tx.max_fee_per_gas = *max_fee;
    tx.gas_limit = gas;
    tx.to = *to;
    tx.value = sent;
    tx.data = std::move(data);
    std::optional<NonceLease> lease;  // settled when the node ends: sent, or given back
    std::string tx_hash;
    for (int attempt = 1;; ++attempt) {
        auto nonce = co_await env.nonces->allocate(book_key, pending);
        if (!nonce) {
            co_return nonce.error();
        }
        lease.emplace(*env.nonces, book_key, *nonce);
        tx.nonce = *nonce;
        const auto signed_tx = tx.sign(*key);
        json::array raw{eth::to_hex(signed_tx.raw)};
        auto hash_v = co_await env.chains->call(env.node_index, chain, "eth_sendRawTransaction",
                                                std::move(raw));
        if (hash_v || nonce_already_sent(hash_v.error())) {
            lease->set(NonceOutcome::kSent);
            tx_hash = eth::to_hex(signed_tx.hash);
            break;
        }
        if (!nonce_taken(hash_v.error())) {
            co_return hash_v.error();  // the lease gives the nonce back
        }
        // Taken by a transaction sent with this key from elsewhere: read the chain, sign again.
        lease->set(NonceOutcome::kStale);
        lease.reset();
        if (attempt == kNonceAttempts) {
            co_return hash_v.error();
        }
    }

    // The receipt, polled with backoff; a cancel interrupts the timer or the call. A transaction
    // still unmined after `replace_after` whose nonce is the chain's next is replaced (same
    // nonce, higher fees): a live chain whose fees rose past it, or anvil's pool leaving a
    // ready transaction queued (foundry-rs/foundry#10122). Every hash sent is polled, newest
    // first, since any of them may be the one mined.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + settings.receipt_timeout;
    const auto replace_after =
        env.is_simulation ? settings.replace_after_on_fork : settings.replace_after;
    auto replace_at = std::chrono::steady_clock::now() + replace_after;
    int replacements = 0;
    std::vector<std::string> hashes{tx_hash};
    // A fork mines a transaction right after answering eth_sendRawTransaction, so the first
    // polls come quickly there; a live chain takes seconds, so polls start slower and cost less.
    auto delay = std::chrono::milliseconds(env.is_simulation ? 2 : 100);
    json::value receipt;
    for (;;) {
        for (auto h = hashes.rbegin(); h != hashes.rend() && receipt.is_null(); ++h) {
            json::array params{*h};
            auto r = co_await env.chains->call(env.node_index, chain, "eth_getTransactionReceipt",
                                               std::move(params));
            if (!r) {
                co_return r.error();
            }
            if (!r->is_null()) {
                receipt = std::move(*r);
                tx_hash = *h;
            }
        }
        if (!receipt.is_null()) {
            break;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            co_return ErrorInfo{RunErrc::kReceiptTimeout,
                                "no receipt for " + tx_hash + " within " +
                                    std::to_string(settings.receipt_timeout.count()) + " ms"};
        }
        if (replace_after.count() > 0 && replacements < TransferSettings::kMaxReplacements &&
            now >= replace_at) {
            ++replacements;
            replace_at = now + replace_after;
            json::array params{from, "latest"};
            auto count = co_await env.chains->call(env.node_index, chain, "eth_getTransactionCount",
                                                   std::move(params));
            if (!count) {
                co_return count.error();
            }
            // Only the chain's next nonce: above it, an earlier transaction is what waits.
            auto tip_up = raised(tx.max_priority_fee_per_gas);
            auto fee_up = raised(tx.max_fee_per_gas);
            if (quantity(*count) == tx.nonce && tip_up && fee_up) {
                tx.max_priority_fee_per_gas = *tip_up;
                tx.max_fee_per_gas = *fee_up;
                const auto again = tx.sign(*key);
                json::array raw{eth::to_hex(again.raw)};
                auto sent_again = co_await env.chains->call(
                    env.node_index, chain, "eth_sendRawTransaction", std::move(raw));
                if (sent_again || nonce_already_sent(sent_again.error())) {
                    hashes.push_back(eth::to_hex(again.hash));
                }
                // Refused (mined meanwhile, or the chain asks more): the polls go on.
            }
        }
        timer.expires_after(delay);
        co_await timer.async_wait(asio::use_awaitable);
        delay = std::min(delay * 2, std::chrono::milliseconds(1000));
    }
    const auto* ro = receipt.if_object();
    auto field = [&](std::string_view k) {
        const auto* v = ro ? ro->if_contains(k) : nullptr;
        return v ? *v : json::value();
    };
    json::object out{{"txHash", tx_hash},
                     {"blockNumber", field("blockNumber")},
                     {"gasUsed", field("gasUsed")},
                     {"status", field("status")},
                     {"from", from},
                     {"requestedValueWei", requested->to_decimal()},
                     {"sentValueWei", sent.to_decimal()}};
    if (hashes.size() > 1) {
        json::array others;
        for (const auto& h : hashes) {
            if (h != tx_hash) {
                others.emplace_back(h);
            }
        }
        out.emplace("replacedTxHashes", std::move(others));
    }
    std::optional<json::object> reason;
    if (env.is_simulation && settings.simulation_report) {
        auto reported = co_await report_transaction(env, chain, tx_hash, receipt, out);
        if (!reported) {
            co_return reported.error();  // cancelled
        }
        reason = std::move(*reported);
    }
    if (field("status") != "0x1") {
        std::string message = "transaction " + tx_hash + " reverted";
        if (reason) {
            message += ": " + describe_revert(*reason);
        }
        env.failed_output = std::move(out);
        co_return ErrorInfo{RunErrc::kTransactionReverted,
                            message + "; receipt: " + json::serialize(receipt)};
    }
    co_return out;
}

}  // namespace forkrun::controller
