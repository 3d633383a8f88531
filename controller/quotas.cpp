// Quota bookkeeping under one mutex; the messages name the organization, the counts and the
// config key of the limit in the way.
#include "controller/quotas.hpp"

namespace forkrun::controller {

namespace {

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

QuotaRefusal refuse(std::string message, bool permanent = false) {
    return QuotaRefusal{std::move(message), kQuotaRetryAfter, permanent};
}

}  // namespace

QuotaRefusal org_runs_refusal(std::string_view org, std::size_t runs) {
    return refuse("organization " + std::string(org) + " has " +
                  plural(runs, "active run", "active runs") + ", the limit (" +
                  std::string(kMaxActiveRunsPerOrg) + "); retry once one of them has ended");
}

QuotaRefusal org_forks_refusal(std::string_view org,
                               std::size_t forks,
                               std::size_t more,
                               std::size_t limit) {
    return refuse("organization " + std::string(org) + " holds " +
                  plural(forks, "live fork", "live forks") + " and this run needs " +
                  std::to_string(more) + " more; the limit is " + std::to_string(limit) + " (" +
                  std::string(kMaxLiveForksPerOrg) + "); retry once a simulation has ended");
}

Quotas::Ticket::Ticket(Ticket&& other) noexcept
    : state_(std::move(other.state_)),
      org_(std::move(other.org_)),
      forks_(other.forks_),
      run_held_(other.run_held_),
      shared_(other.shared_),
      shared_epoch_(other.shared_epoch_) {
    other.state_.reset();
    other.shared_ = nullptr;
}

Quotas::Ticket& Quotas::Ticket::operator=(Ticket&& other) noexcept {
    if (this != &other) {
        release();
        state_ = std::move(other.state_);
        org_ = std::move(other.org_);
        forks_ = other.forks_;
        run_held_ = other.run_held_;
        shared_ = other.shared_;
        shared_epoch_ = other.shared_epoch_;
        other.state_.reset();
        other.shared_ = nullptr;
    }
    return *this;
}

Quotas::Ticket::~Ticket() {
    release();
}

void Quotas::Ticket::give_back(std::size_t runs, std::size_t forks) {
    if (shared_ && (runs > 0 || forks > 0)) {
        shared_->give(org_, shared_epoch_, runs, forks);
    }
    std::lock_guard lock(state_->mu);
    auto it = state_->orgs.find(org_);
    if (it != state_->orgs.end()) {
        it->second.runs -= runs;
        it->second.forks -= forks;
        if (it->second.runs == 0 && it->second.forks == 0) {
            state_->orgs.erase(it);  // the map holds only organizations with runs or forks
        }
    }
    state_->total.runs -= runs;
    state_->total.forks -= forks;
}

void Quotas::Ticket::release() {
    if (!state_) {
        return;
    }
    give_back(run_held_ ? 1 : 0, forks_);
    state_.reset();
    shared_ = nullptr;
}

void Quotas::Ticket::release_run() {
    if (!state_ || !run_held_) {
        return;
    }
    give_back(1, 0);
    run_held_ = false;
}

Quotas::Quotas(const Limits& limits) : limits_(limits), state_(std::make_shared<State>()) {}

boost::system::result<Quotas::Ticket, QuotaRefusal> Quotas::reserve(std::string_view org,
                                                                    std::size_t forks) {
    if (forks > limits_.live_forks_per_org || forks > limits_.live_forks) {
        const bool org_limit = limits_.live_forks_per_org <= limits_.live_forks;
        return refuse(
            "this run needs " + plural(forks, "fork", "forks") + ", more than " +
                (org_limit ? "an organization" : "the server") + " may hold at once, " +
                std::to_string(org_limit ? limits_.live_forks_per_org : limits_.live_forks) + " (" +
                std::string(org_limit ? kMaxLiveForksPerOrg : kMaxLiveForks) + ")",
            true);
    }
    std::lock_guard lock(state_->mu);
    const auto it = state_->orgs.find(std::string(org));
    const Usage mine = it == state_->orgs.end() ? Usage{} : it->second;
    const Usage& all = state_->total;
    if (mine.runs >= limits_.active_runs_per_org) {
        return org_runs_refusal(org, mine.runs);
    }
    if (all.runs >= limits_.active_runs) {
        return refuse("the server has " + plural(all.runs, "active run", "active runs") +
                      ", the limit (" + std::string(kMaxActiveRuns) +
                      "); retry once some have ended");
    }
    if (forks > 0 && mine.forks + forks > limits_.live_forks_per_org) {
        return org_forks_refusal(org, mine.forks, forks, limits_.live_forks_per_org);
    }
    if (forks > 0 && all.forks + forks > limits_.live_forks) {
        return refuse("the server holds " + plural(all.forks, "live fork", "live forks") +
                      " and this run needs " + std::to_string(forks) + " more; the limit is " +
                      std::to_string(limits_.live_forks) + " (" + std::string(kMaxLiveForks) +
                      "); retry once a simulation has ended");
    }
    auto& slot = state_->orgs[std::string(org)];
    slot.runs += 1;
    slot.forks += forks;
    state_->total.runs += 1;
    state_->total.forks += forks;
    Ticket t;
    t.state_ = state_;
    t.org_ = std::string(org);
    t.forks_ = forks;
    t.run_held_ = true;
    return t;
}

Quotas::Usage Quotas::usage(std::string_view org) const {
    std::lock_guard lock(state_->mu);
    const auto it = state_->orgs.find(std::string(org));
    return it == state_->orgs.end() ? Usage{} : it->second;
}

Quotas::Usage Quotas::total() const {
    std::lock_guard lock(state_->mu);
    return state_->total;
}

}  // namespace forkrun::controller
