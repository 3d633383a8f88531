// Gateway forwarding: the body goes to the fork as it came; CU is charged per call in it.
#include "controller/rpc_gateway.hpp"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>

#include "controller/run_ids.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

std::string jsonrpc_error_body(int code, std::string_view message) {
    json::object err{{"code", code}, {"message", message}};
    return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", err}});
}

RpcGateway::RpcGateway(forks::RpcClient& rpc, const forks::CuTable& cu) : rpc_(rpc), cu_(cu) {}

std::string RpcGateway::open(std::shared_ptr<RunRecord> record,
                             std::string fork_id,
                             std::uint64_t chain_id,
                             std::string fork_url) {
    auto t = std::make_shared<Target>();
    t->record = record;
    t->fork_id = std::move(fork_id);
    t->label = "chain " + std::to_string(chain_id);
    t->fork_url = std::move(fork_url);
    const std::string secret = random_token(16);  // 128 bits
    {
        std::unique_lock lock(mu_);
        if (targets_.size() >= sweep_at_) {
            // Without this every simulation ever run kept its target: the store drops old runs,
            // and so must this map. Amortized: the next sweep waits until the map has doubled.
            std::erase_if(targets_, [](const auto& kv) { return kv.second->record.expired(); });
            sweep_at_ = std::max(kMinSweep, targets_.size() * 2);
        }
        targets_.emplace(secret, std::move(t));
    }
    return base_ + std::string(kPathPrefix) + secret;
}

std::size_t RpcGateway::size() const {
    std::shared_lock lock(mu_);
    return targets_.size();
}

void RpcGateway::close(const std::string& rpc_url) {
    const auto pos = rpc_url.rfind('/');
    if (auto t = lookup(std::string_view(rpc_url).substr(pos + 1))) {
        t->released = true;
    }
}

std::shared_ptr<RpcGateway::Target> RpcGateway::lookup(std::string_view secret) const {
    std::shared_lock lock(mu_);
    auto it = targets_.find(std::string(secret));
    return it == targets_.end() ? nullptr : it->second;
}

namespace {

// post_raw as an awaitable that resumes on the caller's executor.
template <class Token>
auto async_post_raw(forks::RpcClient& rpc,
                    std::string url,
                    std::string body,
                    std::chrono::milliseconds timeout,
                    Token&& token) {
    return asio::async_initiate<Token, void(forks::RawReply)>(
        [&rpc](auto handler, std::string url, std::string body, std::chrono::milliseconds t) {
            auto ex = asio::get_associated_executor(handler);
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            rpc.post_raw(std::move(url), std::move(body), t, [h, ex](forks::RawReply r) mutable {
                asio::post(ex, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
            });
        },
        token, std::move(url), std::move(body), timeout);
}

}  // namespace

asio::awaitable<GatewayReply> RpcGateway::forward(std::string_view secret, std::string body) {
    auto t = lookup(secret);
    if (!t) {
        co_return GatewayReply{404, jsonrpc_error_body(-32001, "no fork at this rpcUrl")};
    }
    auto record = t->record.lock();
    if (t->released || !record) {
        co_return GatewayReply{
            410, jsonrpc_error_body(-32002, "this fork was released; its rpcUrl no longer serves")};
    }
    const auto cost = forks::cu_of_body(cu_, body);
    if (cost > 0) {
        record->update([&](Run& r) {
            if (auto* f = r.find_fork(t->fork_id)) {
                f->cu += cost;
            }
        });
    }
    std::string url = t->fork_url;
    auto reply = co_await async_post_raw(rpc_, std::move(url), std::move(body),
                                         std::chrono::seconds(30), asio::use_awaitable);
    if (reply.error) {
        co_return GatewayReply{502, jsonrpc_error_body(-32003, reply.error->message)};
    }
    co_return GatewayReply{static_cast<unsigned>(reply.http_status), std::move(reply.body)};
}

}  // namespace forkrun::controller
