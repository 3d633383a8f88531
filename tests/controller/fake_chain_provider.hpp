// FakeChainProvider: the ChainProvider of RunExecution tests where the behaviour is the graph,
// not the chain. No fork is started; each call is answered by the test's script, metered like
// a real one (a fixed CU per call into the calling node's share) and recorded in order.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/run_chains.hpp"

namespace forkrun::controller {

class FakeChainProvider : public ChainProvider {
  public:
    /// One call a node made, in the order they were made.
    struct Call {
        std::size_t node = 0;
        std::uint64_t chain_id = 0;
        std::string method;
        boost::json::array params;
    };

    /// The answer to a call; `hold` keeps it unanswered until cancelled or let go.
    struct Answer {
        boost::system::result<boost::json::value, ErrorInfo> result = boost::json::value();
        bool hold = false;
    };

    using Script = std::function<Answer(const Call&)>;

    explicit FakeChainProvider(Script script) : script_(std::move(script)) {}

    std::unique_ptr<RunChains> open(std::shared_ptr<RunRecord> record,
                                    boost::asio::any_io_executor strand) override {
        return std::make_unique<Chains>(*this, std::move(record), std::move(strand));
    }

    std::uint64_t cu_per_call = 10;
    std::optional<RunError> provision_error;  ///< what provision() fails with, if anything

    std::vector<Call> calls;
    std::size_t held = 0;       ///< calls waiting on a hold right now
    std::size_t cancelled = 0;  ///< held calls that ended by a cancel
    std::size_t releases = 0;   ///< release() calls

    /// Answers every held call (with a null result).
    void let_go() {
        for (auto* t : holds_) {
            t->cancel();
        }
        holds_.clear();
        let_go_ = true;
    }

  private:
    class Chains : public RunChains {
      public:
        Chains(FakeChainProvider& p,
               std::shared_ptr<RunRecord> record,
               boost::asio::any_io_executor strand)
            : p_(p), record_(std::move(record)), strand_(std::move(strand)) {}

        boost::asio::awaitable<std::optional<RunError>> provision() override {
            co_return p_.provision_error;
        }

        boost::asio::awaitable<boost::system::result<boost::json::value, ErrorInfo>> call(
            std::size_t node_index,
            std::uint64_t chain_id,
            std::string method,
            boost::json::array params) override {
            Call c{node_index, chain_id, std::move(method), std::move(params)};
            p_.calls.push_back(c);
            const auto cost = p_.cu_per_call;
            record_->update([&](Run& r) { r.nodes[node_index].cu += cost; });
            Answer a = p_.script_(c);
            if (a.hold && !p_.let_go_) {
                boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
                timer.expires_at(boost::asio::steady_timer::time_point::max());
                p_.holds_.push_back(&timer);
                ++p_.held;
                boost::system::error_code ec;
                // Like a real call, a cancel of the node ends it with a value, not a throw.
                co_await timer.async_wait(
                    boost::asio::redirect_error(boost::asio::use_awaitable, ec));
                --p_.held;
                std::erase(p_.holds_, &timer);
                if (!p_.let_go_) {
                    ++p_.cancelled;
                    co_return ErrorInfo{RunErrc::kCancelled, c.method + " was cancelled"};
                }
            }
            co_return a.result;
        }

        boost::asio::awaitable<std::vector<ForkTeardown>> release(bool) override {
            ++p_.releases;
            co_return std::vector<ForkTeardown>{};
        }

      private:
        FakeChainProvider& p_;
        std::shared_ptr<RunRecord> record_;
        boost::asio::any_io_executor strand_;
    };

    Script script_;
    std::vector<boost::asio::steady_timer*> holds_;
    bool let_go_ = false;
};

}  // namespace forkrun::controller
