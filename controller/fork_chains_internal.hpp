// ForkChains, the RunChains of the forks library, shared by its files: provisioning and calls
// (fork_chains.cpp), release and the report's changes (fork_chains_release.cpp).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/fork_changes.hpp"
#include "controller/metrics.hpp"
#include "controller/rpc_gateway.hpp"
#include "controller/run_chains.hpp"
#include "forks/fork_manager.hpp"

namespace forkrun::controller::detail {

namespace asio = boost::asio;
namespace json = boost::json;

// A node's result is kept in its run and sent with every read of it, so a JSON-RPC reply
// bigger than a node's output may be fails the node (saying so); the transport stops reading
// this far past that limit (the reply's envelope around the result).
inline constexpr std::size_t kReplyEnvelopeBytes = 4096;

class ForkChains : public RunChains {
  public:
    ForkChains(forks::ForkManager& forks,
               RpcGateway& gateway,
               std::shared_ptr<RunRecord> record,
               asio::any_io_executor strand,
               std::size_t max_output_bytes,
               ControllerMetrics* metrics,
               bool report);

    asio::awaitable<std::optional<RunError>> provision() override;

    asio::awaitable<boost::system::result<json::value, ErrorInfo>> call(
        std::size_t node_index,
        std::uint64_t chain_id,
        std::string method,
        json::array params) override;

    asio::awaitable<std::vector<ForkTeardown>> release(bool collect_changes) override;

    asio::awaitable<bool> keep(bool collect_changes, Timestamp until) override;

    void note_transaction(std::uint64_t chain_id,
                          const std::string& tx_hash,
                          ChainPosition at,
                          const std::vector<BalanceChange>& changes) override;
    void note_balance_set(std::uint64_t chain_id, ChainPosition at, BalanceChange change) override;

  private:
    struct Slot {
        std::uint64_t chain_id = 0;
        std::string fork_id;
        std::string rpc_url;
        std::shared_ptr<forks::ForkHandle> fork;
        bool tainted = false;  ///< An rpc node changed a node setting evm_revert does not undo.
        std::optional<std::uint64_t> block;        ///< The pinned block (forkBlockNumbers), if any.
        std::optional<std::uint64_t> start_block;  ///< The head when the fork was handed out.
        ChainChanges changes;                      ///< The report's balance events.
    };

    Slot* slot_of(std::uint64_t chain_id) {
        for (auto& s : slots_) {
            if (s.chain_id == chain_id && s.fork) {
                return &s;
            }
        }
        return nullptr;
    }

    // Cheat codes that set a balance: the report reads the address's balance at the end.
    static bool sets_balance(std::string_view method) {
        return method == "anvil_setBalance" || method == "anvil_addBalance" ||
               method == "hardhat_setBalance";
    }

    // A call of the report's own to the fork, metered to the fork.
    ForkCall fork_call(const Slot& s) const {
        return metered_fork_call(forks_, record_, s.fork_id, s.fork->url, s.chain_id,
                                 max_output_bytes_ + kReplyEnvelopeBytes);
    }

    forks::MethodMeter fork_meter(const std::string& fork_id) {
        return [rec = record_, fork_id, &cu = forks_.cu()](std::string_view method) {
            rec->charge_fork(fork_id, cu.cost(method));
        };
    }

    asio::awaitable<std::optional<RunError>> provision_one(std::size_t i);
    // The fork's net balance effect into the run's record, before the fork goes.
    asio::awaitable<void> collect_changes(Slot& s);

    // Shared between a teardown and whoever waits for it, so the waiter may give up at the
    // timeout while the teardown goes on in the background (the reaper).
    struct Teardown {
        explicit Teardown(const asio::any_io_executor& ex) : timer(ex) {}
        asio::steady_timer timer;
        std::optional<forks::ForkRelease> result;
    };

    asio::awaitable<ForkTeardown> release_one(std::size_t i, bool collect);
    /// The slots whose fork is up.
    std::vector<std::size_t> up() const;

    forks::ForkManager& forks_;
    RpcGateway& gateway_;
    std::shared_ptr<RunRecord> record_;
    asio::any_io_executor strand_;
    std::vector<std::uint64_t> chains_;
    std::map<std::uint64_t, std::uint64_t> pins_;  // forkBlockNumbers
    bool simulation_ = false;
    bool pool_ = false;
    std::vector<Slot> slots_;
    std::size_t max_output_bytes_;
    ControllerMetrics* metrics_;
    bool report_;
};

}  // namespace forkrun::controller::detail
