// Where runs are kept beyond the process: the interface the controller writes through. The
// memory store (RunStore) stays the index every read is served from; a durable store is given
// each run as it is created, changed and finished (PgStore is the one there is).
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controller/run_record.hpp"

namespace forkrun::controller {

enum class StoreError {
    kUnavailable = 1,  // the database cannot be reached (or did not answer in time)
    kRejected,         // the database refused the write
    kClosed,           // the store is shutting down
};
const boost::system::error_category& store_category();
boost::system::error_code make_error_code(StoreError e);

/// A run read back at start: its JSON as the wire layer wrote it, and its place in its
/// organization's order.
struct StoredRun {
    std::string id;
    std::string organization_id;
    std::uint64_t org_seq = 0;
    std::string json;
};

/// What a durable store holds at start: every run it keeps (oldest first), and the last
/// sequence number each organization has used (runs not loaded included).
struct StoredRuns {
    std::vector<StoredRun> runs;
    std::vector<std::pair<std::string, std::uint64_t>> org_last_seq;
    /// The key list cursors are sealed with, the same for every process on this store, so a
    /// cursor stays valid across a restart.
    std::string cursor_key;
    /// The organization numbers this controller gives out: `slot` modulo `stride` (each
    /// controller sharing the store has a slot of its own).
    std::uint64_t org_seq_stride = 1;
    std::uint64_t org_seq_slot = 0;
};

class DurableStore : public RunChangeSink {
  public:
    using Done = boost::asio::any_completion_handler<void(boost::system::error_code)>;

    /// Writes a new run (the record is not yet in the memory store, its execution not begun);
    /// `done` is called on its associated executor once the row is committed, or with
    /// kUnavailable within the store's bound. Any thread.
    virtual void insert(std::shared_ptr<RunRecord> record, Done done) = 0;

    /// Writes a terminal run's final state: with `done`, ahead of write-behind changes, and
    /// `done` is called once committed, or with kUnavailable after the store's bound (the write
    /// is retried until it lands); without, like a change. Any thread.
    virtual void finish(std::shared_ptr<RunRecord> record, Done done) = 0;

    /// An event of a run this controller owns, as its stream published it (its id, type and
    /// data), stored with the run's next writes so other members can serve the stream. Any
    /// thread; a run's events come in id order.
    virtual void append_event(const std::string& run_id,
                              std::uint64_t id,
                              std::string_view type,
                              std::string_view data) = 0;

    /// insert() and finish() as asynchronous operations (e.g. with asio::use_awaitable).
    template <class Token>
    auto async_insert(std::shared_ptr<RunRecord> record, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [this](auto handler, std::shared_ptr<RunRecord> rec) {
                insert(std::move(rec), Done(std::move(handler)));
            },
            token, std::move(record));
    }
    template <class Token>
    auto async_finish(std::shared_ptr<RunRecord> record, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [this](auto handler, std::shared_ptr<RunRecord> rec) {
                finish(std::move(rec), Done(std::move(handler)));
            },
            token, std::move(record));
    }
};

}  // namespace forkrun::controller

template <>
struct boost::system::is_error_code_enum<forkrun::controller::StoreError> : std::true_type {};
