// Runs owned by another controller on the same durable store: read, watched and cancelled
// through the database (decision 67). The PostgreSQL store's PgRemote is the one there is.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace forkrun::controller {

/// A run's row as the database holds it.
struct RemoteRun {
    bool found = false;
    std::string status;  // waiting, running, success, failure or cancelled
    std::string json;    // the Run as GET answers it
    /// A cancel asked on some member is recorded on the row.
    bool cancel_requested = false;
    /// The owner's answer to it: "" (none yet), "cancelled" (it won), "conflict" (the run was
    /// ending anyway), "unstored" (cancelled, final state not yet committed), "lost" (the owner
    /// was lost and the run finished as controllerLost).
    std::string cancel_result;
    /// request_cancel(): this request's cancel was the one recorded.
    bool recorded = false;
};

/// A page of an organization's runs as the database holds them (GET /v1/runs's filters).
struct RemoteListQuery {
    std::string organization_id;
    std::vector<std::string> statuses;  // empty: any
    std::optional<std::string> workflow_id;
    std::optional<bool> is_simulation;
    std::optional<bool> is_dust_test;
    /// Only runs with a smaller organization number (a cursor's).
    std::optional<std::uint64_t> before_seq;
    std::size_t limit = 50;
    /// Each run as a list item (no workflowDefinition, no executionState), made on the store's
    /// thread; false: the Run as GET answers it (?view=full).
    bool summaries = true;
};

/// One run of a page, newest first: its id, its place in its organization's order, its JSON.
struct RemoteListed {
    std::string id;
    std::uint64_t org_seq = 0;
    std::string json;
};

/// One stored event of a run's stream, with its owner's id.
struct RemoteEvent {
    std::uint64_t id = 0;
    std::string type;
    std::string data;
};

class RemoteRuns {
  public:
    using Done = boost::asio::any_completion_handler<void(boost::system::error_code, RemoteRun)>;
    using ListDone = boost::asio::any_completion_handler<void(boost::system::error_code,
                                                              std::vector<RemoteListed>)>;
    using EventsDone = boost::asio::any_completion_handler<void(boost::system::error_code,
                                                                std::vector<RemoteEvent>)>;
    virtual ~RemoteRuns() = default;

    /// The row of `run_id` in `org` (found false when there is none), read on the store's own
    /// threads; `done` runs on its associated executor. kUnavailable when the database is away.
    virtual void read(std::string run_id, std::string org, Done done) = 0;

    /// Records a cancel of a live run (who, why) on its row and signals its owner; answers the
    /// row as it was, with `recorded` when this cancel is the one the owner will carry out (not
    /// when the run is terminal or another cancel is already recorded).
    virtual void request_cancel(std::string run_id,
                                std::string org,
                                std::string subject,
                                std::optional<std::string> reason,
                                Done done) = 0;

    /// Calls `wake` (from the store's thread) whenever the database signals a change of the run;
    /// the watch lasts while the handle is held.
    virtual std::shared_ptr<void> watch(const std::string& run_id, std::function<void()> wake) = 0;

    /// How long a watcher waits before reading again when nothing was signalled (a NOTIFY is
    /// not replayed to a connection that was away).
    virtual std::chrono::milliseconds poll_interval() const = 0;

    /// Whether the database may hold runs this process does not (another member has been alive
    /// since it started, or it did not read every run back): lists are then read from it.
    virtual bool lists_from_store() const = 0;

    /// A page of runs newest first (org_seq descending), read on the store's threads.
    virtual void list(RemoteListQuery q, ListDone done) = 0;

    /// The stored events of `run_id` after `after`, at most `limit`, in id order.
    virtual void read_events(std::string run_id,
                             std::uint64_t after,
                             std::size_t limit,
                             EventsDone done) = 0;

    template <class Token>
    auto async_list(RemoteListQuery q, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code,
                                                       std::vector<RemoteListed>)>(
            [this](auto handler, RemoteListQuery query) {
                list(std::move(query), ListDone(std::move(handler)));
            },
            token, std::move(q));
    }
    template <class Token>
    auto async_read_events(std::string run_id,
                           std::uint64_t after,
                           std::size_t limit,
                           Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code,
                                                       std::vector<RemoteEvent>)>(
            [this](auto handler, std::string id, std::uint64_t a, std::size_t n) {
                read_events(std::move(id), a, n, EventsDone(std::move(handler)));
            },
            token, std::move(run_id), after, limit);
    }
    template <class Token>
    auto async_read(std::string run_id, std::string org, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, RemoteRun)>(
            [this](auto handler, std::string id, std::string o) {
                read(std::move(id), std::move(o), Done(std::move(handler)));
            },
            token, std::move(run_id), std::move(org));
    }
    template <class Token>
    auto async_request_cancel(std::string run_id,
                              std::string org,
                              std::string subject,
                              std::optional<std::string> reason,
                              Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, RemoteRun)>(
            [this](auto handler, std::string id, std::string o, std::string s,
                   std::optional<std::string> r) {
                request_cancel(std::move(id), std::move(o), std::move(s), std::move(r),
                               Done(std::move(handler)));
            },
            token, std::move(run_id), std::move(org), std::move(subject), std::move(reason));
    }
};

/// A cancel another member recorded for a run this controller owns.
struct CancelAsk {
    std::string run_id;
    std::string organization_id;
    std::string subject;
    std::optional<std::string> reason;
};

}  // namespace forkrun::controller
