// The per-organization quotas counted in PostgreSQL across the controllers sharing the store
// (decision 73): each member's counts in `quota_counters`, summed over the members whose epoch is
// current and whose lease holds, so a controller that is gone stops counting.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "controller/quotas.hpp"

namespace forkrun::controller {

class PgRemote;

class PgQuotas final : public SharedQuotas {
  public:
    /// Statements go through `db`'s readers; `member_id` and `epoch` name this process's row;
    /// another member's counts stop counting once its heartbeat is older than `lease`.
    PgQuotas(PgRemote& db,
             std::string member_id,
             const std::atomic<long long>& epoch,
             std::chrono::milliseconds lease);

    boost::asio::awaitable<Taken> take(Quotas::Ticket& ticket, const Limits& limits) override;
    void give(const std::string& org,
              long long epoch,
              std::size_t runs,
              std::size_t forks) override;

  private:
    // Sends one give; a failed one is tried again `attempts` more times.
    void send_give(std::vector<std::string> params, int attempts);

    PgRemote& db_;
    const std::string member_id_;
    const std::atomic<long long>& epoch_;
    const std::chrono::milliseconds lease_;
};

}  // namespace forkrun::controller
