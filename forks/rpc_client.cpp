// RpcClient's entry points: each frames its JSON-RPC request (or batch), submits it to the curl
// core, and reads the outcome into results.
#include "forks/rpc_client.hpp"

#include "forks/rpc_client_internal.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace forkrun::forks {

namespace {

using detail::Outcome;
using detail::transport_error;

std::string label_of(const std::string& chain, std::string_view method) {
    std::string out;
    if (!chain.empty()) {
        out = chain;
        out += ": ";
    }
    out += method;
    return out;
}

}  // namespace

RpcClient::RpcClient(RpcClientOptions options) {
    core_ = std::make_shared<detail::ClientCore>();
    core_->options = options;
}

detail::ClientCore& RpcClient::started() {
    // A failure throws out of call_once, which stays unset: the next request tries again.
    std::call_once(start_, [this] {
        detail::ensure_curl_global_init();
        core_->multi.reset(curl_multi_init());
        if (!core_->multi) {
            throw std::runtime_error("cannot create a libcurl multi handle");
        }
        curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
        if (h != nullptr) {
            core_->headers.reset(h);
            h = curl_slist_append(h, "Accept: application/json");
        }
        if (h != nullptr) {
            h = curl_slist_append(h, "Expect:");
        }
        if (h == nullptr) {
            throw std::runtime_error("cannot build the JSON-RPC request headers");
        }
        thread_ = std::thread([core = core_] { core->run(); });
    });
    return *core_;
}

RpcClient::~RpcClient() {
    if (!thread_.joinable()) {
        return;  // never started: no request, no thread
    }
    {
        std::lock_guard lock(core_->mutex);
        core_->stopping = true;
    }
    core_->wake();
    thread_.join();
}

CallHandle RpcClient::call(RpcRequest request, std::function<void(RpcResult)> on_done) {
    const std::uint64_t id = core_->next_id.fetch_add(1);
    boost::json::object body;
    body["jsonrpc"] = "2.0";
    body["id"] = id;
    body["method"] = request.method;
    body["params"] = std::move(request.params);
    std::string label = label_of(request.chain, request.method);
    const std::size_t limit =
        request.max_response_bytes != 0
            ? std::min(request.max_response_bytes, core_->options.max_response_bytes)
            : core_->options.max_response_bytes;
    auto finish = [label = std::move(label), limit, id, on_done = std::move(on_done)](Outcome o) {
        if (auto e = transport_error(o, label, limit)) {
            on_done(std::move(*e));
            return;
        }
        on_done(read_call_reply(o.http_status, o.body, id, label, o.endpoint));
    };
    return started().submit(std::move(request.url), boost::json::serialize(body), request.timeout,
                            std::move(finish), false, limit);
}

CallHandle RpcClient::batch(std::string url,
                            std::vector<RpcCallSpec> calls,
                            std::chrono::milliseconds timeout,
                            std::string chain,
                            std::function<void(std::vector<RpcResult>)> on_done) {
    const std::size_t n = calls.size();
    const std::uint64_t first_id = core_->next_id.fetch_add(std::max<std::size_t>(n, 1));
    std::vector<std::string> labels;
    labels.reserve(n);
    boost::json::array body;
    body.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        labels.push_back(label_of(chain, calls[i].method));
        boost::json::object call;
        call["jsonrpc"] = "2.0";
        call["id"] = first_id + i;
        call["method"] = calls[i].method;
        call["params"] = std::move(calls[i].params);
        body.push_back(std::move(call));
    }
    const std::size_t limit = core_->options.max_response_bytes;
    const std::string batch_label =
        label_of(chain, "batch of " + std::to_string(n) + " call" + (n == 1 ? "" : "s"));
    auto finish = [labels = std::move(labels), batch_label, limit, first_id, on_done](Outcome o) {
        if (transport_error(o, batch_label, limit)) {
            std::vector<RpcResult> out;
            out.reserve(labels.size());
            for (const auto& l : labels) {
                out.emplace_back(*transport_error(o, l, limit));
            }
            on_done(std::move(out));
            return;
        }
        on_done(read_batch_reply(o.http_status, o.body, first_id, labels, batch_label, o.endpoint));
    };
    if (n == 0) {
        // Nothing to send; still complete on the I/O thread, like every other call.
        return started().submit(
            std::move(url), {}, timeout, [on_done = std::move(on_done)](Outcome) { on_done({}); },
            true);
    }
    return started().submit(std::move(url), boost::json::serialize(body), timeout,
                            std::move(finish));
}

CallHandle RpcClient::post_raw(std::string url,
                               std::string body,
                               std::chrono::milliseconds timeout,
                               std::function<void(RawReply)> on_done) {
    const std::size_t limit = core_->options.max_response_bytes;
    auto finish = [limit, on_done = std::move(on_done)](Outcome o) {
        RawReply r;
        r.http_status = o.http_status;
        if (auto e = transport_error(o, "POST " + o.endpoint, limit)) {
            r.error = std::move(*e);
        } else {
            r.body = std::move(o.body);
        }
        on_done(std::move(r));
    };
    return started().submit(std::move(url), std::move(body), timeout, std::move(finish));
}

}  // namespace forkrun::forks
