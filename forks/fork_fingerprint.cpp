// Reading, comparing and restoring a pooled fork's fingerprint over one JSON-RPC batch each.
#include "forks/fork_fingerprint.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <memory>
#include <utility>
#include <vector>

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// RpcClient::batch as an awaitable that resumes on the caller's executor.
template <class Token>
auto async_batch(RpcClient& rpc,
                 std::string url,
                 std::vector<RpcCallSpec> calls,
                 std::chrono::milliseconds timeout,
                 std::string label,
                 Token&& token) {
    return asio::async_initiate<Token, void(std::vector<RpcResult>)>(
        [&rpc](auto handler, std::string url, std::vector<RpcCallSpec> calls,
               std::chrono::milliseconds timeout, std::string label) {
            auto ex = asio::get_associated_executor(handler);
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            rpc.batch(std::move(url), std::move(calls), timeout, std::move(label),
                      [h, ex](std::vector<RpcResult> r) mutable {
                          asio::post(ex, [h, r = std::move(r)]() mutable {
                              std::move (*h)(std::move(r));
                          });
                      });
        },
        token, std::move(url), std::move(calls), timeout, std::move(label));
}

const json::value& member(const json::value& v, std::string_view key) {
    static const json::value kNull;
    const auto* obj = v.if_object();
    const auto* m = obj ? obj->if_contains(key) : nullptr;
    return m ? *m : kNull;
}

// Differences restore_settings() can set back.
bool restorable(std::string_view field) {
    return field == "baseFee" || field == "gasPrice" || field == "txpool";
}

bool empty_pool(const json::value& txpool) {
    return member(txpool, "pending") == "0x0" && member(txpool, "queued") == "0x0";
}

}  // namespace

asio::awaitable<boost::system::result<ForkFingerprint, ForkError>> read_fingerprint(
    RpcClient& rpc,
    std::string url,
    std::chrono::milliseconds timeout,
    std::string label) {
    std::vector<RpcCallSpec> calls;
    for (auto m : kFingerprintMethods) {
        calls.push_back({std::string(m), {}});
    }
    auto results = co_await async_batch(rpc, std::move(url), std::move(calls), timeout,
                                        std::move(label), asio::use_awaitable);
    for (const auto& r : results) {
        if (!r) {
            co_return ForkError{PoolErrc::kFingerprintFailed,
                                "reading the fork's fingerprint failed: " + r.error().message};
        }
    }
    const auto& metadata = *results[0];
    const auto& info = *results[1];
    const auto& env = member(info, "environment");
    ForkFingerprint fp;
    auto& f = fp.fields;
    f["instanceId"] = member(metadata, "instanceId");
    f["chainId"] = *results[6];
    f["nodeChainId"] = member(env, "chainId");
    f["headNumber"] = member(metadata, "latestBlockNumber");
    f["headHash"] = member(metadata, "latestBlockHash");
    f["forkedNetwork"] = member(metadata, "forkedNetwork");
    f["snapshots"] = member(metadata, "snapshots");
    f["hardFork"] = member(info, "hardFork");
    f["transactionOrder"] = member(info, "transactionOrder");
    f["forkConfig"] = member(info, "forkConfig");
    f["baseFee"] = member(env, "baseFee");
    f["gasPrice"] = member(env, "gasPrice");
    f["gasLimit"] = member(env, "gasLimit");
    f["automine"] = *results[2];
    f["intervalMining"] = *results[3];
    f["coinbase"] = *results[4];
    f["txpool"] = *results[5];
    if (const auto* fee = f["baseFee"].if_string()) {
        fp.base_fee = std::string(*fee);
    }
    if (!f["instanceId"].is_string() || !f["headHash"].is_string() || fp.base_fee.empty()) {
        co_return ForkError{PoolErrc::kFingerprintFailed,
                            "the fork's anvil_metadata/anvil_nodeInfo answers lack the instance "
                            "id, head hash or base fee"};
    }
    co_return fp;
}

std::string fingerprint_difference(const ForkFingerprint& want, const ForkFingerprint& got) {
    std::string out;
    for (const auto& [key, value] : want.fields) {
        const auto* now = got.fields.if_contains(key);
        const bool same = now != nullptr &&
                          (key == "txpool" ? empty_pool(*now) == empty_pool(value) : *now == value);
        if (same) {
            continue;
        }
        if (!out.empty()) {
            out += "; ";
        }
        // Never the upstream URL: it may carry a provider's API key.
        const bool secret = key == "forkConfig";
        out += std::string(key) + " is " +
               (secret ? std::string("another upstream")
                       : (now ? json::serialize(*now) : std::string("missing"))) +
               (secret ? std::string() : ", was " + json::serialize(value));
    }
    return out;
}

bool only_restorable_differences(const ForkFingerprint& want, const ForkFingerprint& got) {
    for (const auto& [key, value] : want.fields) {
        const auto* now = got.fields.if_contains(key);
        if (now == nullptr) {
            return false;
        }
        if (*now != value && !restorable(key)) {
            return false;
        }
    }
    return true;
}

asio::awaitable<boost::system::result<void, ForkError>> restore_settings(
    RpcClient& rpc,
    std::string url,
    const ForkFingerprint& want,
    std::chrono::milliseconds timeout,
    std::string label) {
    std::vector<RpcCallSpec> calls;
    calls.push_back({"anvil_setNextBlockBaseFeePerGas", json::array{want.base_fee}});
    calls.push_back({"anvil_dropAllTransactions", {}});
    auto results = co_await async_batch(rpc, std::move(url), std::move(calls), timeout,
                                        std::move(label), asio::use_awaitable);
    // One named result, one co_return: GCC 12 with the sanitizers warns falsely
    // (-Wmaybe-uninitialized) on a temporary result<void, ForkError> in a co_return.
    boost::system::result<void, ForkError> out;
    for (const auto& r : results) {
        if (!r) {
            out = ForkError{PoolErrc::kRestoreFailed,
                            "restoring the fork's settings failed: " + r.error().message};
            break;
        }
    }
    co_return out;
}

}  // namespace forkrun::forks
