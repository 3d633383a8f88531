// The policing, metering and in-flight accounting that the gateway's HTTP and WebSocket paths
// share, so that a call costs and counts the same whichever way it comes.
#include "controller/gateway_target.hpp"

#include "controller/balance_changes.hpp"

#include "forks/rpc_policy.hpp"

namespace forkrun::controller::detail {

namespace json = boost::json;

void GatewayTarget::charge(std::uint64_t cost) const {
    if (auto r = record.lock()) {
        r->charge_fork(fork_id, cost);  // a kept fork's calls: its run's inspectionCu
    }
}

void GatewayTarget::settle(std::size_t calls, std::size_t socks) {
    std::vector<std::function<void()>> wake;
    {
        std::lock_guard lock(mu);
        in_flight -= calls;
        sockets -= socks;
        if (settled() && released) {
            wake.swap(on_drained);
        }
    }
    for (auto& w : wake) {
        w();
    }
}

void Answers::add(const json::value& id, int code, std::string_view message) {
    if (!text_.empty()) {
        text_.push_back(',');
    }
    text_.append(forks::jsonrpc_error(id, code, message));
    ++count_;
}

GatewayReply answer_all(
    unsigned status,
    const boost::system::result<forks::JsonRpcBody, forks::JsonRpcBodyError>& parsed,
    int code,
    std::string_view message) {
    if (!parsed) {
        return {status, forks::jsonrpc_error(nullptr, code, message)};
    }
    Answers a;
    for (const auto& c : parsed->calls) {
        a.add(c.id, code, message);
    }
    return {status, a.body(parsed->batch)};
}

std::string splice(std::string_view fork_answer, const Answers& ours) {
    auto first = fork_answer.find_first_not_of(" \t\r\n");
    auto last = fork_answer.find_last_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return "[" + ours.text() + "]";
    }
    const auto trimmed = fork_answer.substr(first, last - first + 1);
    std::string out;
    out.reserve(trimmed.size() + ours.text().size() + 4);
    if (trimmed.size() >= 2 && trimmed.front() == '[' && trimmed.back() == ']') {
        const auto inner = trimmed.substr(1, trimmed.size() - 2);
        out.push_back('[');
        if (inner.find_first_not_of(" \t\r\n") != std::string_view::npos) {
            out.append(inner);
            out.push_back(',');
        }
    } else {
        out.push_back('[');
        out.append(trimmed);
        out.push_back(',');
    }
    out.append(ours.text());
    out.push_back(']');
    return out;
}

namespace {

// A client's cheat code that sets a balance: the report reads that address at the end. A
// handful per fork is plenty; a client that sets thousands of addresses gets the first ones
// (repeats of one address take one place).
constexpr std::size_t kMaxBalanceTouched = 1000;

void note_balance_cheat(GatewayTarget& t, const forks::JsonRpcCall& c) {
    if (c.method != "anvil_setBalance" && c.method != "anvil_addBalance" &&
        c.method != "hardhat_setBalance") {
        return;
    }
    const auto* params = c.params();
    const auto* arr = params ? params->if_array() : nullptr;
    if (!arr || arr->empty() || !(*arr)[0].is_string()) {
        return;
    }
    std::lock_guard lock(t.mu);
    if (t.balance_touched.size() < kMaxBalanceTouched) {
        t.balance_touched.insert(lower_address((*arr)[0].get_string()));
    }
}

}  // namespace

Policed police(GatewayTarget& t,
               forks::JsonRpcBody& body,
               const forks::CuTable& cu,
               GatewayCounters& counters) {
    Policed p;
    p.onward.reserve(body.calls.size());
    for (auto& c : body.calls) {
        if (!c.invalid.empty()) {
            ++counters.invalid;
            p.answers.add(c.id, forks::kInvalidRequestCode, c.invalid);
            continue;
        }
        const auto verdict = forks::classify_method(forks::RpcTarget::kFork, c.method, c.params());
        if (verdict.method_class == forks::MethodClass::kRefused) {
            ++counters.refused;
            if (!c.notification) {
                p.answers.add(c.id, forks::kRefusedCode,
                              "method " + c.method + " is refused: " + std::string(verdict.reason));
            }
            continue;
        }
        if (verdict.method_class == forks::MethodClass::kTainting) {
            t.tainted = true;
        }
        note_balance_cheat(t, c);
        p.cost += cu.cost(c.method);
        p.onward.push_back(&c);
    }
    return p;
}

}  // namespace forkrun::controller::detail
