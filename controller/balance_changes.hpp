// Native-balance bookkeeping of the simulation report: one transaction's state diff presented as
// before/after, its balance changes, and a chain's net effect over a run.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "forks/eth/uint256.hpp"

namespace forkrun::controller {

/// One address's native balance before and after something (a transaction, a run). Addresses
/// are lowercase hex.
struct BalanceChange {
    std::string address;
    eth::Uint256 before;
    eth::Uint256 after;
};

/// A signed amount of wei, for deltas and their sums.
struct SignedWei {
    eth::Uint256 magnitude;
    bool negative = false;

    static SignedWei delta(const eth::Uint256& before, const eth::Uint256& after);
    SignedWei& operator+=(const SignedWei& other);
    SignedWei operator-() const { return SignedWei{magnitude, !negative && !magnitude.is_zero()}; }
    /// "-123", "0", "456".
    std::string to_decimal() const;
};

/// A prestateTracer diff (`{"pre": {...}, "post": {...}}` with diffMode) as
/// `{"<address>": {"balance"|"nonce"|"code": {"before", "after"}, "storage": {"<slot>":
/// {"before", "after"}}}}`: only what changed, absent values as zero (or "0x" for code).
boost::json::object present_state_diff(const boost::json::value& diff);

/// Every address whose balance the diff changes, in address order.
std::vector<BalanceChange> balance_changes(const boost::json::value& diff);

/// `[{address, beforeWei, afterWei, deltaWei}]`, decimal strings.
boost::json::array balance_changes_json(const std::vector<BalanceChange>& changes);

/// Where an event happened on its chain: a transaction's block and index; a balance set at
/// head block `block` comes after every transaction of that block (index max).
struct ChainPosition {
    std::uint64_t block = 0;
    std::uint64_t index = std::numeric_limits<std::uint64_t>::max();

    static ChainPosition after_block(std::uint64_t block) {
        return ChainPosition{block, std::numeric_limits<std::uint64_t>::max()};
    }
};

/// A chain's balance events over a run, and their net effect.
class ChainChanges {
  public:
    /// A mined transaction and the balances it changed.
    void add_transaction(const std::string& tx_hash,
                         ChainPosition at,
                         const std::vector<BalanceChange>& changes);
    /// A balance set by a cheat code whose before is known (a setBalance node).
    void add_balance_set(ChainPosition at, BalanceChange change);
    /// An address changed by a cheat code whose before is not known (anvil_setBalance from a
    /// client or an rpc node): its after is read at the end.
    void touch(const std::string& address);

    bool knows(const std::string& tx_hash) const { return known_.contains(tx_hash); }
    /// Whether an event (a transaction or a balance set) has `address`, so its before is known.
    bool has_events(const std::string& address) const;
    std::size_t transactions() const { return known_.size(); }
    /// Addresses whose final balance must be read from the chain.
    const std::set<std::string>& touched() const { return touched_; }

    /// The net effect: for each address the before of its earliest event and the after of its
    /// latest (or `final_balances`, read from the chain, where given); unchanged ones left out.
    /// `start_balances` are the befores of touched addresses no event knows.
    /// Returns `{"<address>": {"beforeWei", "afterWei", "deltaWei"}}`; `totals` gets
    /// `{"deltaWei", "burnedWei", "mintedWei", "transactions"}`.
    boost::json::object net(const std::map<std::string, eth::Uint256>& start_balances,
                            const std::map<std::string, eth::Uint256>& final_balances,
                            boost::json::object& totals) const;

  private:
    struct Event {
        ChainPosition at;
        std::size_t seq = 0;
        BalanceChange change;
    };
    std::vector<Event> events_;
    std::set<std::string> known_;
    std::set<std::string> touched_;
    SignedWei burned_;
};

/// Lowercase hex address text.
std::string lower_address(std::string_view address);

}  // namespace forkrun::controller
