// JSON-RPC reply parsing (forks/rpc_client.hpp: read_call_reply, read_batch_reply).
// Input: a first line "call STATUS ID" or "batch STATUS FIRST_ID COUNT" (missing or malformed
// numbers take defaults), then the HTTP body. Checks: nothing throws or crashes, a batch has one
// result per call, every error names its call and carries the HTTP status, a result only comes
// with a 2xx status, a number out of range fails the reply, and a batch element reads the same as
// that element sent as a single reply.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "forks/rpc_client.hpp"
#include "fuzz/check.hpp"
#include "util/json_text.hpp"

namespace {

using namespace forkrun::forks;

constexpr std::size_t kMaxBatch = 64;

// Splits off the next space-separated word of `line`.
std::string_view next_word(std::string_view& line) {
    while (!line.empty() && line.front() == ' ') {
        line.remove_prefix(1);
    }
    const auto end = line.find(' ');
    const auto word = line.substr(0, end);
    line = end == std::string_view::npos ? std::string_view() : line.substr(end);
    return word;
}

template <class T>
T number(std::string_view word, T fallback) {
    T v{};
    const auto [p, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
    return ec == std::errc() && p == word.data() + word.size() ? v : fallback;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

void check_result(const RpcResult& r, const std::string& label, int status) {
    const bool ok_status = status >= 200 && status < 300;
    if (r) {
        FUZZ_CHECK(ok_status, "a result only with a 2xx status");
        return;
    }
    const RpcError& e = r.error();
    FUZZ_CHECK(starts_with(e.message, label), "the error names its call");
    FUZZ_CHECK(e.http_status == status, "the error carries the HTTP status");
    FUZZ_CHECK((e.code == RpcErrc::kHttpStatus) == !ok_status, "kHttpStatus iff not 2xx");
    FUZZ_CHECK(e.code == RpcErrc::kHttpStatus || e.code == RpcErrc::kBadResponse ||
                   e.code == RpcErrc::kRpcError,
               "a reply fails only with kHttpStatus, kBadResponse or kRpcError");
    if (e.code != RpcErrc::kRpcError) {
        FUZZ_CHECK(e.rpc_data.is_null(), "rpc_data only for kRpcError");
    }
}

bool same(const RpcResult& a, const RpcResult& b) {
    if (a.has_value() != b.has_value()) {
        return false;
    }
    if (a) {
        return *a == *b;
    }
    return a.error().code == b.error().code && a.error().message == b.error().message &&
           a.error().rpc_code == b.error().rpc_code && a.error().rpc_data == b.error().rpc_data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto nl = input.find('\n');
    std::string_view head = input.substr(0, nl);
    const std::string_view body =
        nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    const std::string_view mode = next_word(head);
    const int status = number<int>(next_word(head), 200);
    const auto id = number<std::uint64_t>(next_word(head), 1);

    if (mode != "batch") {
        const std::string label = "chain 1: eth_call";
        const RpcResult r = read_call_reply(status, body, id, label, "127.0.0.1:8545");
        check_result(r, label, status);
        return 0;
    }

    const std::size_t n = std::min(number<std::size_t>(next_word(head), 2), kMaxBatch);
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < n; ++i) {
        labels.push_back("chain 1: m" + std::to_string(i));
    }
    const std::string batch_label =
        "chain 1: batch of " + std::to_string(n) + " call" + (n == 1 ? "" : "s");
    const std::vector<RpcResult> results =
        read_batch_reply(status, body, id, labels, batch_label, "127.0.0.1:8545");
    FUZZ_CHECK(results.size() == n, "one result per call");
    for (std::size_t i = 0; i < n; ++i) {
        check_result(results[i], labels[i], status);
    }

    // An element the batch matched to call i reads the same as a single reply to call i.
    boost::system::error_code ec;
    boost::json::parse_options opts;
    opts.max_depth = 1024;
    const boost::json::value parsed = boost::json::parse(body, ec, {}, opts);
    if (ec || status < 200 || status >= 300) {
        return 0;
    }
    if (util::non_finite_number_at(parsed)) {
        for (const auto& r : results) {
            FUZZ_CHECK(!r && r.error().code == RpcErrc::kBadResponse,
                       "a reply holding a number out of range is kBadResponse");
        }
        return 0;
    }
    if (!parsed.is_array()) {
        return 0;
    }
    std::vector<bool> matched(n, false);
    for (const auto& element : parsed.get_array()) {
        const auto* obj = element.if_object();
        const auto* rid = obj ? obj->if_contains("id") : nullptr;
        if (rid == nullptr) {
            continue;
        }
        boost::system::error_code nec;
        const auto eid = rid->to_number<std::uint64_t>(nec);
        if (nec || eid < id || eid - id >= n || matched[eid - id]) {
            continue;
        }
        const std::size_t i = eid - id;
        matched[i] = true;
        const RpcResult single =
            read_call_reply(status, boost::json::serialize(element), eid, labels[i]);
        FUZZ_CHECK(same(single, results[i]), "a batch element reads like a single reply");
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (!matched[i]) {
            FUZZ_CHECK(!results[i] && results[i].error().code == RpcErrc::kBadResponse,
                       "a call left out of the batch reply is kBadResponse");
        }
    }
    return 0;
}
