// PgQuotas: a create takes its organization's place with forkrun_take_quota (migration 5: an
// advisory lock per organization, the sum over current members, this member's row raised), one
// round trip on PgRemote's readers; a run's end gives it back with forkrun_give_quota, nobody
// waiting.
#include "controller/pg_quotas.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <iostream>

#include "controller/durable_store.hpp"
#include "controller/pg_remote.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;

namespace {

// (A string, not a literal: GCC 12 warns falsely when a literal's length reaches the co_await.)
const std::string kTake =
    "SELECT forkrun_take_quota($1, $2, $3::bigint, $4::bigint, $5::bigint, $6::bigint, "
    "$7::bigint)";
constexpr const char* kGive =
    "SELECT forkrun_give_quota($1, $2, $3::bigint, $4::bigint, $5::bigint)";
// A give the database did not take is sent again this many times.
constexpr int kGiveAttempts = 3;

}  // namespace

PgQuotas::PgQuotas(PgRemote& db,
                   std::string member_id,
                   const std::atomic<long long>& epoch,
                   std::chrono::milliseconds lease)
    : db_(db), member_id_(std::move(member_id)), epoch_(epoch), lease_(lease) {}

asio::awaitable<SharedQuotas::Taken> PgQuotas::take(Quotas::Ticket& ticket, const Limits& limits) {
    const long long epoch = epoch_.load();
    const std::string org = ticket.organization_id();
    std::vector<std::string> params{org,
                                    member_id_,
                                    std::to_string(epoch),
                                    std::to_string(ticket.forks()),
                                    std::to_string(limits.active_runs_per_org),
                                    std::to_string(limits.live_forks_per_org),
                                    std::to_string(lease_.count())};
    std::string sql = kTake;
    boost::system::error_code ec;
    auto rows = co_await db_.async_query(std::move(sql), std::move(params),
                                         asio::redirect_error(asio::use_awaitable, ec));
    Taken taken;
    if (ec || rows.empty() || rows[0].empty()) {
        taken.ec = ec ? ec : make_error_code(StoreError::kUnavailable);
        co_return taken;
    }
    const std::string& answer = rows[0][0];
    if (answer == "ok") {
        ticket.share(this, epoch);
    } else if (answer.starts_with("runs ")) {
        taken.refused = org_runs_refusal(org, std::stoull(answer.substr(5)));
    } else if (answer.starts_with("forks ")) {
        taken.refused = org_forks_refusal(org, std::stoull(answer.substr(6)), ticket.forks(),
                                          limits.live_forks_per_org);
    } else {
        taken.ec = make_error_code(StoreError::kRejected);
    }
    co_return taken;
}

void PgQuotas::give(const std::string& org, long long epoch, std::size_t runs, std::size_t forks) {
    send_give({org, member_id_, std::to_string(epoch), std::to_string(runs), std::to_string(forks)},
              kGiveAttempts);
}

void PgQuotas::send_give(std::vector<std::string> params, int attempts) {
    auto again = params;
    db_.query(kGive, std::move(params),
              [this, again = std::move(again), attempts](boost::system::error_code ec,
                                                         PgRemote::Rows) mutable {
                  if (!ec || ec == StoreError::kClosed) {
                      return;  // closing: the counts go with this member's epoch
                  }
                  if (attempts > 0) {
                      send_give(std::move(again), attempts - 1);
                      return;
                  }
                  std::cerr << "forkrun: the store did not take back a quota of organization "
                            << again[0] << " (" << ec.message()
                            << "); it counts until this controller restarts\n";
              });
}

}  // namespace forkrun::controller
