// PgNonces: forkrun_take_nonce and forkrun_settle_nonce (migration 5) as a queue of statements
// with at most one in flight, on PgRemote's readers; the chain is read between two takes, on the
// caller's executor, never under a database lock.
#include "controller/pg_nonces.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "controller/durable_store.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;

namespace {

constexpr const char* kTake =
    "SELECT coalesce(forkrun_take_nonce($1, $2::bigint, $3, $4::bigint, "
    "nullif($5, '')::bigint, $6::bigint[])::text, '')";
constexpr const char* kSettle =
    "SELECT forkrun_settle_nonce($1, $2::bigint, $3::bigint, $4, $5::bigint, $6)";

const char* outcome_name(NonceOutcome outcome) {
    switch (outcome) {
        case NonceOutcome::kSent:
            return "sent";
        case NonceOutcome::kUnsent:
            return "unsent";
        case NonceOutcome::kStale:
            return "stale";
    }
    return "unsent";
}

}  // namespace

PgNonces::PgNonces(PgRemote& db, std::string member_id, const std::atomic<long long>& epoch)
    : db_(db), member_id_(std::move(member_id)), epoch_(epoch) {}

PgNonces::~PgNonces() {
    std::deque<Op> left;
    {
        std::lock_guard lock(mu_);
        left.swap(queue_);
    }
    for (auto& op : left) {
        if (op.done) {
            complete_on_own_executor(op.done, make_error_code(StoreError::kClosed),
                                     PgRemote::Rows{});
        }
    }
}

void PgNonces::enqueue(Op op) {
    {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(op));
        if (busy_) {
            return;
        }
        busy_ = true;
    }
    send_next();
}

std::string PgNonces::known_locked(const NonceKey& key) const {
    std::string known = "{";
    auto add = [&](const Held& h) {
        if (std::get<0>(h) == key.signer && std::get<1>(h) == key.chain_id) {
            known += (known.size() > 1 ? "," : "") + std::to_string(std::get<2>(h));
        }
    };
    for (const auto& [h, epoch] : out_) {
        add(h);
    }
    for (const auto& h : settling_) {
        add(h);
    }
    return known + "}";
}

void PgNonces::send_next() {
    std::unique_lock lock(mu_);
    if (queue_.empty()) {
        busy_ = false;
        return;
    }
    // Moved by construction: Boost 1.81's any_completion_handler move-assignment recurses.
    Op op(std::move(queue_.front()));
    queue_.pop_front();
    long long taken_under = 0;  // the epoch a take is sent under (its fourth parameter)
    if (op.take) {
        taken_under = std::stoll(op.params[3]);
        op.params.push_back(known_locked(*op.take));
    }
    lock.unlock();
    // The completion runs on the reader's thread (a plain lambda has no executor of its own):
    // what the statement did is noted, the next statement goes out once this one is committed,
    // then the caller hears of it on its own executor.
    db_.query(
        std::move(op.sql), std::move(op.params),
        [this, take = std::move(op.take), settles = std::move(op.settles), taken_under,
         done = std::move(op.done)](boost::system::error_code ec, PgRemote::Rows rows) mutable {
            {
                std::lock_guard noted(mu_);
                if (take && !ec && !rows.empty() && !rows[0].empty() && !rows[0][0].empty()) {
                    out_[{take->signer, take->chain_id, std::stoull(rows[0][0])}] = taken_under;
                }
                if (settles) {
                    if (auto it = settling_.find(*settles); it != settling_.end()) {
                        settling_.erase(it);
                    }
                }
            }
            send_next();
            if (done) {
                complete_on_own_executor(done, ec, std::move(rows));
            }
        });
}

template <class Token>
auto PgNonces::async_take(const NonceKey& key, std::vector<std::string> params, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, PgRemote::Rows)>(
        [this](auto handler, NonceKey k, std::vector<std::string> p) {
            enqueue(Op{kTake, std::move(p), PgRemote::QueryDone(std::move(handler)), std::move(k),
                       std::nullopt});
        },
        token, key, std::move(params));
}

asio::awaitable<PgNonces::Taken> PgNonces::take(const NonceKey& key,
                                                std::optional<std::uint64_t> count) {
    const long long epoch = epoch_.load();
    std::vector<std::string> params{key.signer, std::to_string(key.chain_id), member_id_,
                                    std::to_string(epoch),
                                    count ? std::to_string(*count) : std::string()};
    boost::system::error_code ec;
    auto rows =
        co_await async_take(key, std::move(params), asio::redirect_error(asio::use_awaitable, ec));
    if (ec || rows.empty() || rows[0].empty()) {
        co_return ErrorInfo{RunErrc::kNodeFailed,
                            "no nonce for " + key.signer + " on chain " +
                                std::to_string(key.chain_id) + ": the store " +
                                (ec ? ec.message() : std::string("answered nothing"))};
    }
    if (rows[0][0].empty()) {
        co_return std::optional<std::uint64_t>{};
    }
    // (Noted as held when the answer came, before the next statement went out.)
    co_return std::optional<std::uint64_t>{std::stoull(rows[0][0])};
}

asio::awaitable<NonceResult> PgNonces::allocate(const NonceKey& key, PendingCount pending) {
    auto taken = co_await take(key, std::nullopt);
    if (!taken) {
        co_return taken.error();
    }
    if (*taken) {
        co_return **taken;
    }
    // No count in the store, or a stale one: the chain's, which only ever raises it.
    auto count = co_await pending();
    if (!count) {
        co_return count.error();
    }
    taken = co_await take(key, *count);
    if (!taken) {
        co_return taken.error();
    }
    if (!*taken) {
        co_return ErrorInfo{RunErrc::kNodeFailed, "the store handed out no nonce for " +
                                                      key.signer + " with the chain's count"};
    }
    co_return **taken;
}

void PgNonces::settle(const NonceKey& key, std::uint64_t nonce, NonceOutcome outcome) {
    long long epoch = epoch_.load();
    const Held held{key.signer, key.chain_id, nonce};
    {
        std::lock_guard lock(mu_);
        if (auto it = out_.find(held); it != out_.end()) {
            epoch = it->second;
            out_.erase(it);
        }
        settling_.insert(held);
    }
    enqueue(Op{kSettle,
               {key.signer, std::to_string(key.chain_id), std::to_string(nonce), member_id_,
                std::to_string(epoch), outcome_name(outcome)},
               {},
               std::nullopt,
               held});
}

}  // namespace forkrun::controller
