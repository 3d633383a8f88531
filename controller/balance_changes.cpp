// The report's balance arithmetic: unsigned 256-bit balances, signed deltas, and a chain's events
// ordered by where they happened.
#include "controller/balance_changes.hpp"

#include <algorithm>
#include <cctype>

namespace forkrun::controller {

namespace json = boost::json;
using eth::Uint256;

namespace {

const json::object* object_at(const json::object* o, std::string_view key) {
    const auto* v = o ? o->if_contains(key) : nullptr;
    return v ? v->if_object() : nullptr;
}

Uint256 quantity(const json::object* account, std::string_view key) {
    const auto* v = account ? account->if_contains(key) : nullptr;
    if (v && v->is_string()) {
        if (auto q = Uint256::from_hex(v->get_string())) {
            return *q;
        }
    }
    if (v && v->is_number()) {
        std::error_code ec;
        return Uint256(v->to_number<std::uint64_t>(ec));
    }
    return Uint256();
}

json::value field(const json::object* account, std::string_view key, json::value absent) {
    const auto* v = account ? account->if_contains(key) : nullptr;
    return v ? *v : absent;
}

json::object before_after(json::value before, json::value after) {
    return json::object{{"before", std::move(before)}, {"after", std::move(after)}};
}

// Storage slots of an account, before and after. In diff mode both sides list only the slots
// that changed, so a slot missing on one side is zero there.
json::object storage_diff(const json::object* pre, const json::object* post) {
    static const json::value kZero =
        "0x0000000000000000000000000000000000000000000000000000000000000000";
    json::object out;
    const auto* before = object_at(pre, "storage");
    const auto* after = object_at(post, "storage");
    std::set<std::string> slots;
    for (const auto* s : {before, after}) {
        if (s) {
            for (const auto& kv : *s) {
                slots.insert(std::string(kv.key()));
            }
        }
    }
    for (const auto& slot : slots) {
        const auto* b = before ? before->if_contains(slot) : nullptr;
        const auto* a = after ? after->if_contains(slot) : nullptr;
        json::value bv = b ? *b : kZero;
        json::value av = a ? *a : kZero;
        if (bv != av) {
            out.emplace(slot, before_after(std::move(bv), std::move(av)));
        }
    }
    return out;
}

// A side of a diff (`pre` or `post`) by lowercase address.
std::map<std::string, const json::object*> accounts(const json::object* diff,
                                                    std::string_view side) {
    std::map<std::string, const json::object*> out;
    if (const auto* s = object_at(diff, side)) {
        for (const auto& kv : *s) {
            out[lower_address(kv.key())] = kv.value().if_object();
        }
    }
    return out;
}

const json::object* find(const std::map<std::string, const json::object*>& side,
                         const std::string& address) {
    auto it = side.find(address);
    return it == side.end() ? nullptr : it->second;
}

// Every account on either side of a prestate diff, in address order, with its state before and
// after. In diff mode an account left out of `post` (while `post` is there) was deleted; a field
// left out of an account that is there did not change.
template <class F>
void each_account(const json::value& diff, F&& visit) {
    const auto* d = diff.if_object();
    const auto pre = accounts(d, "pre");
    const auto post = accounts(d, "post");
    const bool has_post = object_at(d, "post") != nullptr;
    std::set<std::string> addresses;
    for (const auto* side : {&pre, &post}) {
        for (const auto& kv : *side) {
            addresses.insert(kv.first);
        }
    }
    for (const auto& address : addresses) {
        const auto* after = find(post, address);
        visit(address, find(pre, address), after, has_post && !after);
    }
}

}  // namespace

std::string lower_address(std::string_view address) {
    std::string out(address);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

SignedWei SignedWei::delta(const Uint256& before, const Uint256& after) {
    if (after >= before) {
        return SignedWei{saturating_sub(after, before), false};
    }
    return SignedWei{saturating_sub(before, after), true};
}

SignedWei& SignedWei::operator+=(const SignedWei& o) {
    if (negative == o.negative) {
        auto sum = checked_add(magnitude, o.magnitude);
        magnitude = sum ? *sum : Uint256::max();
    } else if (magnitude >= o.magnitude) {
        magnitude = saturating_sub(magnitude, o.magnitude);
    } else {
        magnitude = saturating_sub(o.magnitude, magnitude);
        negative = o.negative;
    }
    if (magnitude.is_zero()) {
        negative = false;
    }
    return *this;
}

std::string SignedWei::to_decimal() const {
    return (negative ? "-" : "") + magnitude.to_decimal();
}

json::object present_state_diff(const json::value& diff) {
    json::object out;
    each_account(diff, [&](const std::string& address, const json::object* b, const json::object* a,
                           bool deleted) {
        json::object account;
        auto scalar = [&](std::string_view key, json::value zero) {
            json::value bv = field(b, key, zero);
            json::value av = a && a->contains(key) ? a->at(key) : (deleted ? zero : bv);
            if (bv != av) {
                account.emplace(key, before_after(std::move(bv), std::move(av)));
            }
        };
        scalar("balance", "0x0");
        scalar("nonce", 0);
        scalar("code", "0x");
        auto storage = storage_diff(b, a);
        if (!storage.empty()) {
            account.emplace("storage", std::move(storage));
        }
        if (!account.empty()) {
            out.emplace(address, std::move(account));
        }
    });
    return out;
}

std::vector<BalanceChange> balance_changes(const json::value& diff) {
    std::vector<BalanceChange> out;
    each_account(diff, [&](const std::string& address, const json::object* b, const json::object* a,
                           bool deleted) {
        const Uint256 before = quantity(b, "balance");
        const Uint256 after = a && a->contains("balance") ? quantity(a, "balance")
                              : deleted                   ? Uint256()
                                                          : before;
        if (before != after) {
            out.push_back({address, before, after});
        }
    });
    return out;
}

json::array balance_changes_json(const std::vector<BalanceChange>& changes) {
    json::array out;
    for (const auto& c : changes) {
        out.push_back(json::object{{"address", c.address},
                                   {"beforeWei", c.before.to_decimal()},
                                   {"afterWei", c.after.to_decimal()},
                                   {"deltaWei", SignedWei::delta(c.before, c.after).to_decimal()}});
    }
    return out;
}

void ChainChanges::add_transaction(const std::string& tx_hash,
                                   ChainPosition at,
                                   const std::vector<BalanceChange>& changes) {
    if (!known_.insert(lower_address(tx_hash)).second) {
        return;
    }
    SignedWei sum;
    for (const auto& c : changes) {
        events_.push_back(Event{at, events_.size(), c});
        sum += SignedWei::delta(c.before, c.after);
    }
    // What the balances lost in a transaction is the base fee it burned.
    burned_ += -sum;
}

void ChainChanges::add_balance_set(ChainPosition at, BalanceChange change) {
    change.address = lower_address(change.address);
    events_.push_back(Event{at, events_.size(), std::move(change)});
}

bool ChainChanges::has_events(const std::string& address) const {
    const auto a = lower_address(address);
    return std::any_of(events_.begin(), events_.end(),
                       [&](const Event& e) { return e.change.address == a; });
}

void ChainChanges::touch(const std::string& address) {
    touched_.insert(lower_address(address));
}

json::object ChainChanges::net(const std::map<std::string, Uint256>& start_balances,
                               const std::map<std::string, Uint256>& final_balances,
                               json::object& totals) const {
    auto events = events_;
    std::stable_sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
        if (x.at.block != y.at.block) {
            return x.at.block < y.at.block;
        }
        if (x.at.index != y.at.index) {
            return x.at.index < y.at.index;
        }
        return x.seq < y.seq;
    });
    std::map<std::string, BalanceChange> net;
    for (const auto& e : events) {
        auto [it, fresh] = net.try_emplace(e.change.address, e.change);
        if (!fresh) {
            it->second.after = e.change.after;
        }
    }
    for (const auto& [address, before] : start_balances) {
        net.try_emplace(address, BalanceChange{address, before, before});
    }
    for (const auto& [address, after] : final_balances) {
        if (auto it = net.find(address); it != net.end()) {
            it->second.after = after;
        }
    }
    json::object out;
    SignedWei sum;
    for (const auto& [address, c] : net) {
        if (c.before == c.after) {
            continue;
        }
        const auto delta = SignedWei::delta(c.before, c.after);
        sum += delta;
        out.emplace(address, json::object{{"beforeWei", c.before.to_decimal()},
                                          {"afterWei", c.after.to_decimal()},
                                          {"deltaWei", delta.to_decimal()}});
    }
    SignedWei minted = sum;
    minted += burned_;
    totals = json::object{{"deltaWei", sum.to_decimal()},
                          {"burnedWei", burned_.to_decimal()},
                          {"mintedWei", minted.to_decimal()},
                          {"transactions", known_.size()}};
    return out;
}

}  // namespace forkrun::controller
