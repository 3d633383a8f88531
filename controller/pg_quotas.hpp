// The per-organization quotas counted in PostgreSQL across the controllers sharing the store
// (decision 73): each member's counts in `quota_counters`, summed over the members whose epoch is
// current and whose lease holds, so a controller that is gone stops counting.
#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
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
    /// Answers what is still queued with kClosed.
    ~PgQuotas() override;
    PgQuotas(const PgQuotas&) = delete;
    PgQuotas& operator=(const PgQuotas&) = delete;

    boost::asio::awaitable<Taken> take(Quotas::Ticket& ticket, const Limits& limits) override;
    void give(const std::string& org,
              long long epoch,
              std::size_t runs,
              std::size_t forks) override;

  private:
    // The answer of one take: "ok", "runs N" or "forks N" (decision 73).
    using Answered =
        boost::asio::any_completion_handler<void(boost::system::error_code, std::string)>;
    struct Waiting {
        std::string org;
        std::size_t forks = 0;
        std::size_t max_runs = 0;
        std::size_t max_forks = 0;
        Answered done;
    };
    // Queues a take; sent at once when no statement is in the database, else with the next.
    void enqueue(Waiting w);
    // Sends every queued take and give as one statement, or notes that none is in flight.
    void send_batch();

    PgRemote& db_;
    const std::string member_id_;
    const std::atomic<long long>& epoch_;
    const std::chrono::milliseconds lease_;
    std::mutex mu_;
    std::deque<Waiting> queue_;
    // Places to give back per (organization, epoch): runs, forks, and the attempts left of the
    // statement that failed to give them (a new give starts with kGiveAttempts).
    struct Owed {
        std::size_t runs = 0;
        std::size_t forks = 0;
        int attempts = 0;
    };
    std::map<std::pair<std::string, long long>, Owed> owed_;
    // A statement is in the database: what queues meanwhile goes with the next.
    bool busy_ = false;

    // The gives of a statement that failed, owed again (with one attempt fewer).
    void owe_again(const std::map<std::pair<std::string, long long>, Owed>& gives,
                   boost::system::error_code ec);
};

}  // namespace forkrun::controller
