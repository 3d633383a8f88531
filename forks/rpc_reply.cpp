// Reading what came back from an exchange: a transport outcome or a JSON-RPC reply (single or
// batch) becomes one RpcResult per call, with errors naming the chain and the method.
#include "forks/rpc_client_internal.hpp"
#include "util/json_text.hpp"

#include <boost/json/parse.hpp>

#include <cmath>
#include <string_view>
#include <utility>

namespace forkrun::forks {

namespace {

std::string describe_limit(std::size_t bytes) {
    constexpr std::size_t kMiB = 1024 * 1024;
    if (bytes >= kMiB && bytes % kMiB == 0) {
        return std::to_string(bytes / kMiB) + " MiB";
    }
    return std::to_string(bytes) + " bytes";
}

/// A printable excerpt of a body for an error message.
std::string excerpt(std::string_view body) {
    constexpr std::size_t kMax = 200;
    std::string out;
    for (char c : body.substr(0, kMax)) {
        out += (c >= 0x20 && c < 0x7f) ? c : ' ';
    }
    if (body.size() > kMax) {
        out += "...";
    }
    return out;
}

RpcError make_error(RpcErrc code, std::string message, int http_status = 0) {
    RpcError e;
    e.code = code;
    e.message = std::move(message);
    e.http_status = http_status;
    return e;
}

std::optional<std::uint64_t> id_of(const boost::json::value& v) {
    boost::system::error_code ec;
    auto n = v.to_number<std::uint64_t>(ec);
    if (ec) {
        return std::nullopt;
    }
    return n;
}

/// Gives meaning to one JSON-RPC reply object.
RpcResult interpret_reply(const boost::json::value& reply,
                          const std::string& label,
                          int http_status) {
    const auto* obj = reply.if_object();
    if (obj == nullptr) {
        return make_error(RpcErrc::kBadResponse,
                          label + ": response is not a JSON-RPC reply (not an object)",
                          http_status);
    }
    if (const auto* err = obj->if_contains("error"); err != nullptr && !err->is_null()) {
        const auto* eo = err->if_object();
        const auto* code = eo ? eo->if_contains("code") : nullptr;
        const auto* msg = eo ? eo->if_contains("message") : nullptr;
        boost::system::error_code ec;
        std::int64_t code_n = code ? code->to_number<std::int64_t>(ec) : 0;
        if (eo == nullptr || code == nullptr || ec || msg == nullptr || !msg->is_string()) {
            return make_error(RpcErrc::kBadResponse,
                              label + ": response has a malformed JSON-RPC error object",
                              http_status);
        }
        RpcError e = make_error(RpcErrc::kRpcError,
                                label + " failed: " + std::string(msg->as_string()) +
                                    " (JSON-RPC error " + std::to_string(code_n) + ")",
                                http_status);
        e.rpc_code = code_n;
        if (const auto* data = eo->if_contains("data")) {
            e.rpc_data = *data;
        }
        return e;
    }
    if (const auto* result = obj->if_contains("result")) {
        return *result;
    }
    return make_error(RpcErrc::kBadResponse,
                      label + ": response is not a JSON-RPC reply (neither result nor error)",
                      http_status);
}

/// Parses a reply body, or says why it cannot be used.
boost::system::result<boost::json::value, RpcError> parse_body(int http_status,
                                                               std::string_view body,
                                                               std::string_view endpoint,
                                                               const std::string& label) {
    const bool ok_status = http_status >= 200 && http_status < 300;
    boost::json::parse_options opts;
    opts.max_depth = 1024;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec, {}, opts);
    if (!ok_status) {
        std::string msg = label + ": HTTP " + std::to_string(http_status) + " from ";
        msg += endpoint;
        RpcError e = make_error(RpcErrc::kHttpStatus, "", http_status);
        if (!ec) {
            // Providers often explain a 4xx/5xx (rate limits, bad keys) in a JSON-RPC error.
            const auto* obj = v.if_object();
            const auto* err = obj ? obj->if_contains("error") : nullptr;
            const auto* eo = err ? err->if_object() : nullptr;
            const auto* m = eo ? eo->if_contains("message") : nullptr;
            if (m != nullptr && m->is_string()) {
                msg += ": " + std::string(m->as_string());
                boost::system::error_code cec;
                if (const auto* c = eo->if_contains("code")) {
                    e.rpc_code = c->to_number<std::int64_t>(cec);
                }
            }
        } else if (!body.empty()) {
            msg += ": " + excerpt(body);
        }
        e.message = std::move(msg);
        return e;
    }
    if (ec) {
        return make_error(RpcErrc::kBadResponse,
                          label + ": response is not JSON (" + ec.message() + "): " + excerpt(body),
                          http_status);
    }
    if (auto at = util::non_finite_number_in(body, v)) {
        return make_error(RpcErrc::kBadResponse,
                          label + ": response holds a number out of range at \"" + *at + "\"",
                          http_status);
    }
    return v;
}

}  // namespace

std::optional<RpcError> detail::transport_error(const Outcome& o,
                                                const std::string& label,
                                                std::size_t limit) {
    switch (o.kind) {
        case Outcome::Kind::kReply:
            return std::nullopt;
        case Outcome::Kind::kTransport:
            return make_error(RpcErrc::kTransport, label + ": " + o.detail);
        case Outcome::Kind::kTimeout:
            return make_error(RpcErrc::kTimeout, label + ": " + o.detail);
        case Outcome::Kind::kAborted:
            return make_error(RpcErrc::kAborted, label + ": aborted");
        case Outcome::Kind::kTooLarge: {
            RpcError e = make_error(RpcErrc::kBadResponse,
                                    label + ": response from " + o.endpoint +
                                        " is larger than the " + describe_limit(limit) + " limit",
                                    o.http_status);
            e.too_large = true;
            return e;
        }
    }
    return std::nullopt;
}

RpcResult read_call_reply(int http_status,
                          std::string_view body,
                          std::uint64_t id,
                          const std::string& label,
                          std::string_view endpoint) {
    auto parsed = parse_body(http_status, body, endpoint, label);
    if (!parsed) {
        return parsed.error();
    }
    const boost::json::value& reply = *parsed;
    if (const auto* obj = reply.if_object()) {
        const auto* rid = obj->if_contains("id");
        if (rid != nullptr && !rid->is_null() && id_of(*rid) != id && obj->contains("result")) {
            return make_error(RpcErrc::kBadResponse,
                              label + ": response id does not match the request id", http_status);
        }
    }
    return interpret_reply(reply, label, http_status);
}

std::vector<RpcResult> read_batch_reply(int http_status,
                                        std::string_view body,
                                        std::uint64_t first_id,
                                        const std::vector<std::string>& labels,
                                        const std::string& batch_label,
                                        std::string_view endpoint) {
    const std::size_t n = labels.size();
    std::vector<RpcResult> out;
    out.reserve(n);
    auto fail_all = [&](auto&& make) {
        for (std::size_t i = 0; i < n; ++i) {
            out.emplace_back(make(labels[i]));
        }
        return std::move(out);
    };
    auto parsed = parse_body(http_status, body, endpoint, batch_label);
    if (!parsed) {
        return fail_all([&](const std::string& l) {
            RpcError e = parsed.error();
            e.message = l + e.message.substr(batch_label.size());
            return e;
        });
    }
    const boost::json::value& reply = *parsed;
    const auto* arr = reply.if_array();
    if (arr == nullptr) {
        // A server that rejects the whole batch answers with a single error object.
        const auto* obj = reply.if_object();
        if (obj != nullptr && obj->contains("error")) {
            return fail_all([&](const std::string& l) {
                return interpret_reply(reply, l, http_status).error();
            });
        }
        return fail_all([&](const std::string& l) {
            return make_error(RpcErrc::kBadResponse, l + ": batch response is not a JSON array",
                              http_status);
        });
    }
    std::vector<const boost::json::value*> by_index(n, nullptr);
    for (const auto& element : *arr) {
        const auto* obj = element.if_object();
        const auto* rid = obj ? obj->if_contains("id") : nullptr;
        const auto id = rid ? id_of(*rid) : std::nullopt;
        if (id && *id >= first_id && *id - first_id < n && !by_index[*id - first_id]) {
            by_index[*id - first_id] = &element;
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (by_index[i] == nullptr) {
            out.emplace_back(make_error(
                RpcErrc::kBadResponse,
                labels[i] + ": the batch response has no reply for this call", http_status));
        } else {
            out.push_back(interpret_reply(*by_index[i], labels[i], http_status));
        }
    }
    return out;
}

}  // namespace forkrun::forks
