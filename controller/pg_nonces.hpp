// Nonces in PostgreSQL, so that the live transfers of one signer from runs on several controllers
// sharing the store never collide (decision 73). The semantics are NonceBook's with
// forget_when_idle: the chain's pending count read when the store holds no count (or a stale
// one), nonces given back handed out first, the count forgotten once none is out.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "controller/nonce_book.hpp"
#include "controller/pg_remote.hpp"

namespace forkrun::controller {

class PgNonces final : public NonceAllocator {
  public:
    /// Statements go through `db`'s readers, one at a time in the order they were asked (a
    /// nonce given back is seen by the next allocation); `member_id` and `epoch` name this
    /// process's allocations, so a process that is gone has its own given back.
    PgNonces(PgRemote& db, std::string member_id, const std::atomic<long long>& epoch);
    /// Answers what is still queued with kClosed.
    ~PgNonces() override;
    PgNonces(const PgNonces&) = delete;
    PgNonces& operator=(const PgNonces&) = delete;

    boost::asio::awaitable<NonceResult> allocate(const NonceKey& key,
                                                 PendingCount pending) override;
    void settle(const NonceKey& key, std::uint64_t nonce, NonceOutcome outcome) override;

  private:
    using Taken = boost::system::result<std::optional<std::uint64_t>, ErrorInfo>;
    // (signer, chain, nonce)
    using Held = std::tuple<std::string, std::uint64_t, std::uint64_t>;
    struct Op {
        std::string sql;
        std::vector<std::string> params;
        PgRemote::QueryDone done;  // empty: nobody waits
        // A take: the nonces this process holds of its key go last in `params` (read when it is
        // sent), and the nonce it answers is noted as held before the next statement goes out.
        std::optional<NonceKey> take;
        // A settle: no longer settling once it has run.
        std::optional<Held> settles;
    };

    // forkrun_take_nonce: the nonce, or none when the chain must be read (`count` absent).
    boost::asio::awaitable<Taken> take(const NonceKey& key, std::optional<std::uint64_t> count);
    void enqueue(Op op);
    // enqueue() of a take of `key` as an asynchronous operation.
    template <class Token>
    auto async_take(const NonceKey& key, std::vector<std::string> params, Token&& token);
    // Sends the oldest queued statement, or notes that none is in flight.
    void send_next();

    PgRemote& db_;
    const std::string member_id_;
    const std::atomic<long long>& epoch_;
    std::mutex mu_;
    std::deque<Op> queue_;
    bool busy_ = false;
    // The epoch each nonce out was taken under (settled under the same one).
    std::map<Held, long long> out_;
    // Nonces whose settle is queued or in the database: still held there meanwhile.
    std::multiset<Held> settling_;
    // Holds `mu_`. The nonces of `key` this process holds, as a PostgreSQL array.
    std::string known_locked(const NonceKey& key) const;
};

}  // namespace forkrun::controller
