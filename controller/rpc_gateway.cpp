// Gateway forwarding: parse once, police and meter each call, write on only what was parsed, and
// answer every failure as JSON-RPC under the caller's ids. rpcUrls, their release and drain.
#include "controller/rpc_gateway.hpp"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>

#include "controller/gateway_target.hpp"
#include "controller/run_ids.hpp"
#include "forks/upstream_redaction.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;
namespace json = boost::json;

std::string jsonrpc_error_body(int code, std::string_view message) {
    return forks::jsonrpc_error(nullptr, code, message);
}

using namespace detail;

RpcGateway::RpcGateway(forks::RpcClient& rpc, const forks::CuTable& cu, GatewayLimits limits)
    : rpc_(rpc), cu_(cu), limits_(limits), counters_(std::make_unique<GatewayCounters>()) {}

RpcGateway::~RpcGateway() = default;

std::string RpcGateway::open(std::shared_ptr<RunRecord> record,
                             std::string fork_id,
                             std::uint64_t chain_id,
                             std::string fork_url,
                             std::string upstream) {
    auto t = std::make_shared<Target>();
    t->record = record;
    t->fork_id = std::move(fork_id);
    t->label = "chain " + std::to_string(chain_id);
    t->fork_url = std::move(fork_url);
    t->upstream = std::move(upstream);
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

std::optional<std::string> RpcGateway::fork_id_of(std::string_view secret) const {
    if (auto t = lookup(secret)) {
        return t->fork_id;
    }
    return std::nullopt;
}

void RpcGateway::close(const std::string& rpc_url) {
    const auto pos = rpc_url.rfind('/');
    if (auto t = lookup(std::string_view(rpc_url).substr(pos + 1))) {
        release(*t, std::chrono::milliseconds(0));
    }
}

void RpcGateway::release(Target& t, std::chrono::milliseconds within) {
    decltype(t.closers) closers;
    {
        std::lock_guard lock(t.mu);
        t.released = true;
        closers.swap(t.closers);
    }
    for (auto& [id, on_release] : closers) {
        on_release(within);
    }
}

GatewayAttach RpcGateway::attach(std::string_view secret,
                                 std::function<void(std::chrono::milliseconds)> on_release) {
    GatewayAttach a;
    auto t = lookup(secret);
    if (!t) {
        ++counters_->not_found;
        a.status = 404;
        a.body = jsonrpc_error_body(kGatewayNotFoundCode, "no fork at this rpcUrl");
        return a;
    }
    a.fork_id = t->fork_id;
    const auto record = t->record.lock();
    std::uint64_t closer = 0;
    {
        std::lock_guard lock(t->mu);
        if (!record || t->released) {
            ++counters_->gone;
            a.status = 410;
            a.body = jsonrpc_error_body(kGatewayReleasedCode, kGatewayReleasedMessage);
            return a;
        }
        closer = t->next_closer++;
        t->closers.emplace(closer, std::move(on_release));
        ++t->sockets;
    }
    a.relay = std::make_unique<WsRelay>(t, closer, cu_, limits_.jsonrpc, *counters_);
    return a;
}

asio::awaitable<GatewayClose> RpcGateway::close_and_drain(const std::string& rpc_url,
                                                          std::chrono::milliseconds within) {
    const auto pos = rpc_url.rfind('/');
    auto t = lookup(std::string_view(rpc_url).substr(pos + 1));
    if (!t) {
        co_return GatewayClose{};
    }
    // The executor is the caller's strand: the wake-up posted below cannot run before the wait
    // has begun, so it is never lost.
    auto ex = co_await asio::this_coro::executor;
    auto timer = std::make_shared<asio::steady_timer>(ex);
    timer->expires_after(within);
    decltype(t->closers) closers;
    {
        std::lock_guard lock(t->mu);
        t->released = true;
        if (t->settled()) {
            co_return GatewayClose{!t->cut, t->tainted.load()};
        }
        closers.swap(t->closers);
        t->on_drained.push_back([ex, w = std::weak_ptr(timer)] {
            asio::post(ex, [w] {
                if (auto timer = w.lock()) {
                    timer->cancel();
                }
            });
        });
    }
    for (auto& [id, on_release] : closers) {
        on_release(within);
    }
    for (;;) {
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        std::lock_guard lock(t->mu);
        if (t->settled() || !ec) {  // drained, or the time is up
            // A call or socket that ends later must not wake a waiter that has gone (nor post
            // to its executor).
            t->on_drained.clear();
            co_return GatewayClose{t->settled() && !t->cut, t->tainted.load()};
        }
    }
}

std::vector<std::string> RpcGateway::balance_touched(const std::string& rpc_url) const {
    const auto pos = rpc_url.rfind('/');
    auto t = lookup(std::string_view(rpc_url).substr(pos + 1));
    if (!t) {
        return {};
    }
    std::lock_guard lock(t->mu);
    return {t->balance_touched.begin(), t->balance_touched.end()};
}

std::shared_ptr<RpcGateway::Target> RpcGateway::lookup(std::string_view secret) const {
    std::shared_lock lock(mu_);
    auto it = targets_.find(std::string(secret));
    return it == targets_.end() ? nullptr : it->second;
}

GatewayCounts RpcGateway::counts() const {
    const auto& n = *counters_;
    GatewayCounts c;
    c.forwarded = n.forwarded.load();
    c.refused = n.refused.load();
    c.invalid = n.invalid.load();
    c.not_found = n.not_found.load();
    c.gone = n.gone.load();
    c.failed = n.failed.load();
    c.sockets = n.sockets.load();
    c.notifications = n.notifications.load();
    return c;
}

namespace {

using detail::answer_all;
using detail::Answers;
using detail::splice;

// Without a transport: post_raw on the curl thread, as an awaitable that resumes on the caller's
// executor (a thread hop each way).
template <class Token>
auto async_post_raw(forks::RpcClient& rpc,
                    std::string url,
                    std::string body,
                    std::chrono::milliseconds timeout,
                    Token&& token) {
    return asio::async_initiate<Token, void(ForkAnswer)>(
        [&rpc](auto handler, std::string url, std::string body, std::chrono::milliseconds t) {
            auto ex = asio::get_associated_executor(handler);
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            rpc.post_raw(std::move(url), std::move(body), t, [h, ex](forks::RawReply r) mutable {
                ForkAnswer a{static_cast<unsigned>(r.http_status), std::move(r.body), {}};
                if (r.error) {
                    a.error = std::move(r.error->message);
                }
                asio::post(ex, [h, a = std::move(a)]() mutable { std::move (*h)(std::move(a)); });
            });
        },
        token, std::move(url), std::move(body), timeout);
}

}  // namespace

asio::awaitable<GatewayReply> RpcGateway::forward(std::string_view secret, std::string body) {
    auto t = lookup(secret);
    auto reply = co_await forward_to(t, std::move(body));
    if (t) {
        reply.fork_id = t->fork_id;
    }
    co_return reply;
}

asio::awaitable<GatewayReply> RpcGateway::forward_to(std::shared_ptr<Target> t, std::string body) {
    auto parsed = forks::parse_jsonrpc_body(body, limits_.jsonrpc);
    auto& counters = *counters_;
    if (!t) {
        ++counters.not_found;
        co_return answer_all(404, parsed, kGatewayNotFoundCode, "no fork at this rpcUrl");
    }
    auto record = t->record.lock();
    const auto released = [&t] {
        std::lock_guard lock(t->mu);
        return t->released;
    };
    if (!record || released()) {
        ++counters.gone;
        co_return answer_all(410, parsed, kGatewayReleasedCode, kGatewayReleasedMessage);
    }
    if (!parsed) {
        ++counters.invalid;
        co_return GatewayReply{
            400, forks::jsonrpc_error(nullptr, parsed.error().code, parsed.error().message)};
    }
    if (parsed->over_batch_limit) {
        ++counters.invalid;
        Answers a;
        for (const auto& c : parsed->calls) {
            a.add(c.id, forks::kLimitExceededCode, c.invalid);
        }
        co_return GatewayReply{413, a.body(true)};
    }

    // Police and price every call; only the allowed ones go on.
    auto policed = police(*t, *parsed, cu_, counters);
    auto& answers = policed.answers;
    const auto& onward = policed.onward;
    if (onward.empty()) {
        if (answers.empty()) {
            co_return GatewayReply{204, {}};  // only notifications, all refused
        }
        const bool invalid_single = !parsed->batch && !parsed->calls.front().invalid.empty();
        co_return GatewayReply{invalid_single ? 400u : 200u, answers.body(parsed->batch)};
    }

    // Counted in flight before the release could pass it, charged before it is sent.
    {
        std::lock_guard lock(t->mu);
        if (t->released) {
            ++counters.gone;
            co_return answer_all(410, parsed, kGatewayReleasedCode, kGatewayReleasedMessage);
        }
        ++t->in_flight;
    }
    InFlight in_flight(t);
    t->charge(policed.cost);
    std::string out;
    if (!parsed->batch) {
        out = json::serialize(onward.front()->request);
    } else {
        out.push_back('[');
        for (std::size_t i = 0; i < onward.size(); ++i) {
            if (i > 0) {
                out.push_back(',');
            }
            out.append(json::serialize(onward[i]->request));
        }
        out.push_back(']');
    }
    // Not a conditional expression: GCC destroys a co_await's result in one twice.
    ForkAnswer reply;
    if (transport_ != nullptr) {
        reply = co_await transport_->post(t->fork_url, std::move(out), limits_.call_timeout);
    } else {
        reply = co_await async_post_raw(rpc_, t->fork_url, std::move(out), limits_.call_timeout,
                                        asio::use_awaitable);
    }
    in_flight.end();
    if (reply.error) {
        counters.failed += onward.size();
        // Neither the fork's own address nor its upstream leaves the controller.
        const std::string why =
            t->label + " fork unreachable: " +
            forks::redact_url(forks::redact_url(*reply.error, t->fork_url, "<fork>"), t->upstream);
        for (const auto* c : onward) {
            if (!c->notification) {
                answers.add(c->id, kGatewayUnreachableCode, why);
            }
        }
        co_return GatewayReply{502, answers.body(parsed->batch)};
    }
    counters.forwarded += onward.size();
    // anvil names its upstream in errors about it (e.g. when the upstream is unreachable).
    reply.body = forks::redact_url(std::move(reply.body), t->upstream);
    if (answers.empty()) {
        co_return GatewayReply{reply.http_status, std::move(reply.body)};
    }
    co_return GatewayReply{200, splice(reply.body, answers)};
}

}  // namespace forkrun::controller
