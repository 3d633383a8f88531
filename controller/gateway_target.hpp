// What the rpcUrl gateway keeps of one rpcUrl, and the policing both its paths share: HTTP
// bodies (rpc_gateway.cpp) and WebSocket messages (ws_relay.cpp). Internal to the controller.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/rpc_gateway.hpp"
#include "forks/cu_table.hpp"
#include "forks/jsonrpc_request.hpp"

namespace forkrun::controller::detail {

/// The gateway's counters since it started (GatewayCounts is a copy of them).
struct GatewayCounters {
    std::atomic<std::uint64_t> forwarded{0}, refused{0}, invalid{0}, not_found{0}, gone{0},
        failed{0}, sockets{0}, notifications{0};
};

/// One rpcUrl: the fork behind it, and what is still under way through it.
struct GatewayTarget {
    std::weak_ptr<RunRecord> record;
    std::string fork_id;
    std::string label;  ///< "chain <id>", for errors
    std::string fork_url;
    std::string upstream;
    std::atomic<bool> tainted{false};

    std::mutex mu;  // guards everything below
    bool released = false;
    /// A WebSocket let go of the fork with calls unanswered: they may still land.
    bool cut = false;
    /// HTTP bodies and WebSocket messages forwarded and not answered yet.
    std::size_t in_flight = 0;
    /// WebSockets whose connection to the fork is still open (subscriptions live on it).
    std::size_t sockets = 0;
    /// Called once all of the above is over after the release.
    std::vector<std::function<void()>> on_drained;
    /// Each WebSocket's `on_release`, by registration number.
    std::map<std::uint64_t, std::function<void(std::chrono::milliseconds)>> closers;
    std::uint64_t next_closer = 0;
    /// Addresses (lowercase) a client's balance cheat codes set: the report reads them at the end.
    std::set<std::string> balance_touched;

    /// Nothing is under way any more (`mu` held).
    bool settled() const { return in_flight == 0 && sockets == 0; }

    /// Adds `cost` to the fork's share of its run.
    void charge(std::uint64_t cost) const;

    /// Ends `calls` units of `in_flight` and `socks` of `sockets`; wakes the drain waiters once
    /// released and settled.
    void settle(std::size_t calls, std::size_t socks);
};

// Counts one forwarded body in flight to its target until it is answered.
class InFlight {
  public:
    explicit InFlight(std::shared_ptr<GatewayTarget> t) : t_(std::move(t)) {}
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    ~InFlight() { end(); }

    void end() {
        if (t_) {
            t_->settle(1, 0);
            t_.reset();
        }
    }

  private:
    std::shared_ptr<GatewayTarget> t_;
};

/// Error objects, comma-separated, to be answered alongside (or instead of) the fork's answer.
class Answers {
  public:
    void add(const boost::json::value& id, int code, std::string_view message);
    bool empty() const { return count_ == 0; }
    std::size_t count() const { return count_; }
    const std::string& text() const { return text_; }

    /// The whole answer: an array for a batch, the one object otherwise.
    std::string body(bool batch) const { return batch ? "[" + text_ + "]" : text_; }

  private:
    std::string text_;
    std::size_t count_ = 0;
};

/// The same error for every call of a body (or one with a null id when it could not be read).
GatewayReply answer_all(
    unsigned status,
    const boost::system::result<forks::JsonRpcBody, forks::JsonRpcBodyError>& parsed,
    int code,
    std::string_view message);

/// Adds our error objects to the fork's answer to a batch.
std::string splice(std::string_view fork_answer, const Answers& ours);

/// The calls of a body the method policy lets through, what they cost, and the answers to the
/// others (refused or invalid).
struct Policed {
    Answers answers;
    std::vector<forks::JsonRpcCall*> onward;
    std::uint64_t cost = 0;
};

/// Polices and prices every call of `body`; taints `t` for a tainting method.
Policed police(GatewayTarget& t,
               forks::JsonRpcBody& body,
               const forks::CuTable& cu,
               GatewayCounters& counters);

}  // namespace forkrun::controller::detail
