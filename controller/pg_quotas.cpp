// PgQuotas: creates take their organizations' places and runs' ends give them back through one
// statement in flight at a time, forkrun_quotas (migration 10: the gives, then the takes with the
// organizations' advisory locks, one sum over current members and one upsert of this member's
// row an organization), carrying every give and take that queued meanwhile (decisions 76 and
// 95), on PgRemote's readers; nobody waits for a give.
#include "controller/pg_quotas.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <iostream>

#include "controller/durable_store.hpp"
#include "controller/pg_remote.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;

namespace {

constexpr const char* kQuotas =
    "SELECT answer FROM forkrun_quotas($1::json, $2::json, $3, $4::bigint, $5::bigint)";
// Takes in one statement at most (a longer queue goes in the next).
constexpr std::size_t kMaxTakesPerBatch = 512;

// A give the database did not take is sent again this many times.
constexpr int kGiveAttempts = 3;

}  // namespace

PgQuotas::PgQuotas(PgRemote& db,
                   std::string member_id,
                   const std::atomic<long long>& epoch,
                   std::chrono::milliseconds lease)
    : db_(db), member_id_(std::move(member_id)), epoch_(epoch), lease_(lease) {}

PgQuotas::~PgQuotas() {
    std::deque<Waiting> left;
    {
        std::lock_guard lock(mu_);
        left.swap(queue_);
    }
    for (auto& w : left) {
        complete_on_own_executor(w.done, make_error_code(StoreError::kClosed), std::string());
    }
}

void PgQuotas::enqueue(Waiting w) {
    {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(w));
        if (busy_) {
            return;
        }
        busy_ = true;
    }
    send_batch();
}

void PgQuotas::send_batch() {
    std::vector<Waiting> batch;
    std::map<std::pair<std::string, long long>, Owed> gives;
    {
        std::lock_guard lock(mu_);
        if (queue_.empty() && owed_.empty()) {
            busy_ = false;
            return;
        }
        // Moved by construction: Boost 1.81's any_completion_handler move-assignment recurses.
        batch.reserve(std::min(queue_.size(), kMaxTakesPerBatch));
        while (!queue_.empty() && batch.size() < kMaxTakesPerBatch) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        gives.swap(owed_);
    }
    boost::json::array give_rows;
    give_rows.reserve(gives.size());
    for (const auto& [key, o] : gives) {
        give_rows.push_back(
            boost::json::array{boost::json::value(key.first), key.second, o.runs, o.forks});
    }
    boost::json::array takes;
    takes.reserve(batch.size());
    for (const auto& w : batch) {
        takes.push_back(
            boost::json::array{boost::json::value(w.org), w.forks, w.max_runs, w.max_forks});
    }
    std::vector<std::string> params{boost::json::serialize(give_rows),
                                    boost::json::serialize(takes), member_id_,
                                    std::to_string(epoch_.load()), std::to_string(lease_.count())};
    // The completion runs on the reader's thread: the next batch goes out, then each take hears
    // its answer on its own executor.
    db_.query(kQuotas, std::move(params),
              [this, batch = std::move(batch), gives = std::move(gives)](
                  boost::system::error_code ec, PgRemote::Rows rows) mutable {
                  if (ec && ec != StoreError::kClosed) {
                      owe_again(gives, ec);
                  }
                  // (kClosed: closing; the counts go with this member's epoch.)
                  send_batch();
                  if (!ec && rows.size() != batch.size()) {
                      ec = make_error_code(StoreError::kRejected);
                  }
                  for (std::size_t i = 0; i < batch.size(); ++i) {
                      complete_on_own_executor(
                          batch[i].done, ec,
                          ec || rows[i].empty() ? std::string() : std::move(rows[i][0]));
                  }
              });
}

void PgQuotas::owe_again(const std::map<std::pair<std::string, long long>, Owed>& gives,
                         boost::system::error_code ec) {
    // Owed again, with one attempt fewer; given up at none.
    std::lock_guard lock(mu_);
    for (const auto& [key, o] : gives) {
        if (o.attempts <= 1) {
            std::cerr << "forkrun: the store did not take back a quota of organization "
                      << key.first << " (" << ec.message()
                      << "); it counts until this controller restarts\n";
            continue;
        }
        auto& again = owed_[key];
        again.runs += o.runs;
        again.forks += o.forks;
        again.attempts = std::max(again.attempts, o.attempts - 1);
    }
}

asio::awaitable<SharedQuotas::Taken> PgQuotas::take(Quotas::Ticket& ticket, const Limits& limits) {
    // The epoch the batch is sent under is this one: it moves when the process starts, and when
    // the controller registers again after another member took it over (its places under the
    // old epoch are dropped then).
    const long long epoch = epoch_.load();
    const std::string org = ticket.organization_id();
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    auto text = co_await asio::async_initiate<decltype(token),
                                              void(boost::system::error_code, std::string)>(
        [&](auto handler) {
            enqueue(Waiting{org, ticket.forks(), limits.active_runs_per_org,
                            limits.live_forks_per_org, Answered(std::move(handler))});
        },
        token);
    Taken taken;
    if (ec || text.empty()) {
        taken.ec = ec ? ec : make_error_code(StoreError::kUnavailable);
        co_return taken;
    }
    if (text == "ok") {
        ticket.share(this, epoch);
    } else if (text.starts_with("runs ")) {
        taken.refused = org_runs_refusal(org, std::stoull(text.substr(5)));
    } else if (text.starts_with("forks ")) {
        taken.refused = org_forks_refusal(org, std::stoull(text.substr(6)), ticket.forks(),
                                          limits.live_forks_per_org);
    } else {
        taken.ec = make_error_code(StoreError::kRejected);
    }
    co_return taken;
}

void PgQuotas::give(const std::string& org, long long epoch, std::size_t runs, std::size_t forks) {
    {
        std::lock_guard lock(mu_);
        auto& o = owed_[{org, epoch}];
        o.runs += runs;
        o.forks += forks;
        o.attempts = std::max(o.attempts, kGiveAttempts);
        if (busy_) {
            return;
        }
        busy_ = true;
    }
    send_batch();
}

}  // namespace forkrun::controller
