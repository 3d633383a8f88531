// Quotas on active runs and live forks, per organization and server-wide: reserved when a run is
// created (synchronously, so no burst can race past them) and given back when it is done.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "controller/limits.hpp"

namespace forkrun::controller {

/// Why a create was refused for want of room.
struct QuotaRefusal {
    std::string message;  ///< names the limit, e.g. "... the limit (maxActiveRunsPerOrg)"
    std::chrono::seconds retry_after{5};
    /// The run can never fit (it needs more than the limit itself): a 400, not a 429.
    bool permanent = false;
};

/// What a 429 for a run or fork quota sends as Retry-After.
inline constexpr std::chrono::seconds kQuotaRetryAfter{5};

/// The refusals of the per-organization limits: `runs` active runs held; `forks` live forks
/// held when this run needs `more`.
QuotaRefusal org_runs_refusal(std::string_view org, std::size_t runs);
QuotaRefusal org_forks_refusal(std::string_view org,
                               std::size_t forks,
                               std::size_t more,
                               std::size_t limit);

class SharedQuotas;

class Quotas {
  public:
    /// The counts of one organization or of the server.
    struct Usage {
        std::size_t runs = 0;
        std::size_t forks = 0;
    };

  private:
    struct State {
        std::mutex mu;
        std::unordered_map<std::string, Usage> orgs;
        Usage total;
    };

  public:
    /// A run's place in the quotas, held until the run is done; given back when released or
    /// destroyed.
    class Ticket {
      public:
        Ticket() = default;
        Ticket(Ticket&& other) noexcept;
        Ticket& operator=(Ticket&& other) noexcept;
        Ticket(const Ticket&) = delete;
        Ticket& operator=(const Ticket&) = delete;
        ~Ticket();

        /// Gives the place back now (idempotent).
        void release();

        /// Gives back the active run only, keeping its live forks (a failed run whose forks are
        /// kept); release() gives back the rest.
        void release_run();

        const std::string& organization_id() const { return org_; }
        std::size_t forks() const { return forks_; }
        /// The run's place is counted in `shared` too (under `epoch`), and given back there.
        void share(SharedQuotas* shared, long long epoch) {
            shared_ = shared;
            shared_epoch_ = epoch;
        }

      private:
        friend class Quotas;
        void give_back(std::size_t runs, std::size_t forks);
        std::shared_ptr<State> state_;
        std::string org_;
        std::size_t forks_ = 0;
        bool run_held_ = false;
        SharedQuotas* shared_ = nullptr;
        long long shared_epoch_ = 0;
    };

    explicit Quotas(const Limits& limits);

    /// Takes one active run and `forks` live forks for `org`, or says which limit is in the way.
    /// Thread-safe.
    boost::system::result<Ticket, QuotaRefusal> reserve(std::string_view org, std::size_t forks);

    Usage usage(std::string_view org) const;
    Usage total() const;

  private:
    Limits limits_;
    std::shared_ptr<State> state_;
};

/// The per-organization limits counted across the controllers sharing a durable store (the
/// server-wide ones stay each controller's own: its forks are its processes). Thread-safe.
class SharedQuotas {
  public:
    struct Taken {
        boost::system::error_code ec;         ///< the store could not say (kUnavailable)
        std::optional<QuotaRefusal> refused;  ///< a limit is in the way across the members
    };
    virtual ~SharedQuotas() = default;

    /// Counts the ticket's run and forks across the members, or says which limit is in the
    /// way; once counted, the ticket gives them back here as it gives them back locally.
    virtual boost::asio::awaitable<Taken> take(Quotas::Ticket& ticket, const Limits& limits) = 0;
    /// Gives back what a ticket counted under `epoch` (any thread, never blocks).
    virtual void give(const std::string& org,
                      long long epoch,
                      std::size_t runs,
                      std::size_t forks) = 0;
};

}  // namespace forkrun::controller
