// A WebSocket's JSON-RPC: parsed, policed and metered like the HTTP gateway's, forwarded under
// the relay's own ids, answered under the client's.
#include "controller/ws_relay.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <mutex>
#include <utility>

#include "controller/gateway_target.hpp"
#include "forks/upstream_redaction.hpp"

namespace forkrun::controller {

namespace json = boost::json;
using namespace detail;

namespace {

// anvil's answers are read whole (a call tracer's output nests deep); their size is bounded by
// the socket's message limit.
constexpr std::size_t kForkAnswerDepth = 100000;

// The notifications of a subscription cost what the table lists for this name, and nothing when
// it lists none (the shipped table does not: a subscription costs its eth_subscribe).
constexpr std::string_view kNotificationMethod = "eth_subscription";

}  // namespace

WsRelay::WsRelay(std::shared_ptr<GatewayTarget> target,
                 std::uint64_t closer,
                 const forks::CuTable& cu,
                 const forks::JsonRpcLimits& limits,
                 GatewayCounters& counters)
    : t_(std::move(target)), closer_(closer), cu_(cu), limits_(limits), counters_(counters) {
    ++counters_.sockets;
}

WsRelay::~WsRelay() {
    close();
}

const std::string& WsRelay::fork_id() const {
    return t_->fork_id;
}

const std::string& WsRelay::fork_url() const {
    return t_->fork_url;
}

bool WsRelay::released() const {
    if (t_->record.expired()) {
        return true;
    }
    std::lock_guard lock(t_->mu);
    return t_->released;
}

void WsRelay::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    const std::size_t cut = messages_;
    {
        std::lock_guard lock(t_->mu);
        if (cut > 0) {
            t_->cut = true;
        }
        t_->closers.erase(closer_);
    }
    slots_.clear();
    messages_ = 0;
    --counters_.sockets;
    t_->settle(cut, 1);
}

WsRelay::Step WsRelay::from_client(std::string_view message) {
    auto parsed = forks::parse_jsonrpc_body(message, limits_);
    if (closed_ || released()) {
        ++counters_.gone;
        return {{}, answer_all(410, parsed, kGatewayReleasedCode, kGatewayReleasedMessage).body};
    }
    if (!parsed) {
        ++counters_.invalid;
        return {{}, forks::jsonrpc_error(nullptr, parsed.error().code, parsed.error().message)};
    }
    if (parsed->over_batch_limit) {
        ++counters_.invalid;
        Answers a;
        for (const auto& c : parsed->calls) {
            a.add(c.id, forks::kLimitExceededCode, c.invalid);
        }
        return {{}, a.body(true)};
    }
    auto policed = police(*t_, *parsed, cu_, counters_);
    if (policed.onward.empty()) {
        return {{}, policed.answers.empty() ? std::string() : policed.answers.body(parsed->batch)};
    }
    {
        // Counted in flight before the release could pass it, charged before it is sent.
        std::lock_guard lock(t_->mu);
        if (t_->released) {
            ++counters_.gone;
            return {{},
                    answer_all(410, parsed, kGatewayReleasedCode, kGatewayReleasedMessage).body};
        }
        ++t_->in_flight;
    }
    t_->charge(policed.cost);
    auto m = std::make_shared<Message>();
    m->batch = parsed->batch;
    m->ours = policed.answers.text();
    m->calls = policed.onward.size();
    m->ids.reserve(m->calls);
    Step step;
    if (m->batch) {
        step.to_fork.push_back('[');
    }
    for (auto* c : policed.onward) {
        const WireId id = next_id_++;
        c->request["id"] = id;
        slots_.emplace(id, Slot{m, std::move(c->id), c->notification});
        m->ids.push_back(id);
        if (step.to_fork.size() > 1) {
            step.to_fork.push_back(',');
        }
        step.to_fork.append(json::serialize(c->request));
    }
    if (m->batch) {
        step.to_fork.push_back(']');
    }
    ++messages_;
    return step;
}

std::vector<std::string> WsRelay::from_fork(std::string_view message) {
    std::vector<std::string> out;
    // anvil names its upstream in errors about it.
    std::string text = forks::redact_url(std::string(message), t_->upstream);
    json::parse_options opts;
    opts.max_depth = kForkAnswerDepth;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, {}, opts);
    if (ec) {
        return out;  // nothing a client could match to a call
    }
    if (auto* obj = v.if_object(); obj && !obj->contains("id") && obj->contains("method")) {
        ++counters_.notifications;
        if (const auto cost = cu_.listed_cost(kNotificationMethod)) {
            t_->charge(*cost);
        }
        out.push_back(std::move(text));
        return out;
    }
    // The answers, by the message they answer, in the order they came.
    std::vector<std::pair<std::shared_ptr<Message>, std::vector<json::value>>> groups;
    auto take = [&](json::value& answer) {
        auto* obj = answer.if_object();
        auto* id = obj ? obj->if_contains("id") : nullptr;
        if (id == nullptr || (!id->is_uint64() && !id->is_int64())) {
            return;
        }
        auto it =
            slots_.find(id->is_uint64() ? id->get_uint64() : static_cast<WireId>(id->get_int64()));
        if (it == slots_.end()) {
            return;
        }
        auto& slot = it->second;
        std::pair<std::shared_ptr<Message>, std::vector<json::value>>* group = nullptr;
        for (auto& g : groups) {
            if (g.first == slot.message) {
                group = &g;
            }
        }
        if (group == nullptr) {
            group = &groups.emplace_back(slot.message, std::vector<json::value>{});
        }
        if (!slot.notification) {
            *id = std::move(slot.client_id);
            group->second.push_back(std::move(answer));
        }
        slots_.erase(it);
    };
    if (auto* arr = v.if_array()) {
        for (auto& element : *arr) {
            take(element);
        }
    } else {
        take(v);
    }
    for (auto& [m, answers] : groups) {
        if (auto text_out = answer(*m, answers); !text_out.empty()) {
            out.push_back(std::move(text_out));
        }
        finish(*m);
    }
    return out;
}

std::string WsRelay::answer(const Message& m, std::vector<json::value>& answers) const {
    if (!m.batch) {
        return answers.empty() ? std::string() : json::serialize(answers.front());
    }
    std::string out;
    auto add = [&out](std::string_view element) {
        out.push_back(out.empty() ? '[' : ',');
        out.append(element);
    };
    for (const auto& a : answers) {
        add(json::serialize(a));
    }
    // A call of the batch the fork left out of its answer (slots still held) is answered here.
    for (const auto id : m.ids) {
        auto it = slots_.find(id);
        if (it != slots_.end() && !it->second.notification) {
            add(forks::jsonrpc_error(it->second.client_id, kGatewayUnreachableCode,
                                     "the fork's answer to the batch left this call out"));
        }
    }
    if (!m.ours.empty()) {
        add(m.ours);
    }
    if (!out.empty()) {
        out.push_back(']');
    }
    return out;
}

void WsRelay::finish(const Message& m) {
    for (const auto id : m.ids) {
        slots_.erase(id);
    }
    --messages_;
    counters_.forwarded += m.calls;
    t_->settle(1, 0);
}

}  // namespace forkrun::controller
