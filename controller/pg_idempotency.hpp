// Idempotency keys in PostgreSQL, so a create repeated on another controller sharing the store
// is answered the first run (decision 67).
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "controller/idempotency_keys.hpp"

namespace forkrun::controller {

class PgRemote;

class PgIdempotencyKeys final : public IdempotencyKeys {
  public:
    /// Statements go through `db`'s readers; `controller_id` names who claimed a key.
    PgIdempotencyKeys(PgRemote& db, std::string controller_id);

    boost::asio::awaitable<IdempotencyClaim> claim(std::string organization_id,
                                                   std::string key,
                                                   std::string digest,
                                                   std::chrono::milliseconds wait) override;
    void complete(std::uint64_t ticket, std::string run_id, unsigned status) override;
    void release(std::uint64_t ticket) override;

  private:
    // Runs `sql` with the key the ticket claimed ($1, $2) and `more`, and forgets the ticket.
    void forget(std::uint64_t ticket, std::string sql, std::vector<std::string> more);

    PgRemote& db_;
    const std::string controller_id_;
    std::mutex mu_;
    std::uint64_t next_ticket_ = 1;
    std::unordered_map<std::uint64_t, std::pair<std::string, std::string>> claims_;
};

}  // namespace forkrun::controller
