// A numbered, bounded history of events with subscribers that each have a bounded queue.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace forkrun::controller {

/// One event: its id in its stream, its type (`run`, `node`, ...) and its data, one line of JSON.
struct Event {
    std::uint64_t id = 0;
    std::string type;
    std::string data;
    /// What the organization stream filters on; not sent.
    std::string workflow_id;
    bool is_simulation = false;
    /// Its Server-Sent Events text (sse_frame), made once when it is published to a stream
    /// with subscribers and shared by them; empty otherwise (no subscriber then, or made again
    /// from a stream's packed history): a stream frames such an event when it sends it.
    std::string frame;

    /// What the event counts for against a subscriber's byte cap.
    std::size_t bytes() const { return data.size() + type.size() + 32; }
};

using EventPtr = std::shared_ptr<const Event>;

/// `id: n`, `event: type`, `data: json` and a blank line: the event as a stream sends it.
std::string sse_frame(const Event& e);

/// What a subscriber got from one pull.
struct Pulled {
    std::vector<EventPtr> events;
    /// The subscriber fell more than its byte cap behind: its stream must close.
    bool cut_off = false;
    /// No event will ever come again (the run ended and all was pulled, or stop()).
    bool over = false;
};

/// One consumer of a stream. Publishers push from any thread without waiting; the consumer is
/// woken by a post to its own executor.
class Subscription : public std::enable_shared_from_this<Subscription> {
  public:
    Subscription(boost::asio::any_io_executor ex,
                 std::size_t byte_cap,
                 std::function<bool(const Event&)> filter);

    /// Run on the subscriber's executor only. Everything queued, or, when nothing is, waits
    /// until something is or until `deadline` (then an empty result).
    boost::asio::awaitable<Pulled> pull(std::chrono::steady_clock::time_point deadline);

    /// From any thread: the next pull() answers `over` once the queue is drained.
    void stop();

    /// Queues `e` unless the filter refuses it; cuts the subscriber off past its cap. A replayed
    /// event is shared with the history, so it costs nothing against the cap.
    void push(const EventPtr& e, bool replayed = false);
    /// Queues `e` ahead of everything, unfiltered and uncounted (a snapshot).
    void push_first(const EventPtr& e);
    /// The stream ended: nothing more will be pushed.
    void end();

  private:
    void wake_locked();

    const boost::asio::any_io_executor ex_;
    const std::size_t byte_cap_;
    const std::function<bool(const Event&)> filter_;
    std::shared_ptr<boost::asio::steady_timer> timer_;
    std::mutex mu_;
    std::deque<EventPtr> queue_;
    std::size_t bytes_ = 0;
    bool cut_off_ = false;
    bool ended_ = false;
    bool waiting_ = false;
};

/// Where a new subscriber starts.
struct SubscribeFrom {
    /// Events after this id; none: from now on (live only).
    std::optional<std::uint64_t> after;
};

/// A stream's history, bounded by count, and its subscribers. Thread-safe.
class EventStream {
  public:
    static constexpr std::size_t kDefaultKeep = 1000;
    static constexpr std::size_t kDefaultByteCap = 1 << 20;

    explicit EventStream(std::size_t keep = kDefaultKeep, std::size_t byte_cap = kDefaultByteCap);

    /// Appends an event with the next id and hands it to every subscriber. Never waits on one.
    /// Returns the id.
    std::uint64_t publish(Event e);

    /// Publishes nothing more; subscribers' streams end once drained.
    void end();
    /// Of an ended stream: packs the history into one compressed buffer (type and data only: a
    /// stored finished run's events cost a fraction of their JSON), made into events again for
    /// a subscriber that replays it. Called when the run is compacted, off the path that ended
    /// it. Idempotent; nothing before end().
    void pack();

    /// A subscriber that first gets the held events after `from.after`. When some of them are no
    /// longer held (or `after` is past the latest id), `snapshot(latest id)` makes the first
    /// event the subscriber gets instead (a `snapshot`), then events after the latest id; of an
    /// ended stream, the snapshot and then the last event (the end, with the same id).
    std::shared_ptr<Subscription> subscribe(
        SubscribeFrom from,
        boost::asio::any_io_executor ex,
        std::function<bool(const Event&)> filter = {},
        const std::function<EventPtr(std::uint64_t)>& snapshot = {});

    /// The id of the latest event (0: none yet).
    std::uint64_t latest() const;
    /// The id of the oldest event held (0: none held).
    std::uint64_t oldest() const;

  private:
    std::uint64_t oldest_locked() const;
    std::size_t held_locked() const;
    std::vector<EventPtr> unpack_locked() const;  // an ended stream's events, oldest first

    const std::size_t keep_;
    const std::size_t byte_cap_;
    mutable std::mutex mu_;
    // The events; null once packed (an empty deque still holds a block).
    std::unique_ptr<std::deque<EventPtr>> history_ = std::make_unique<std::deque<EventPtr>>();
    // A packed stream's events, compressed (EventStream::pack), and how many and how long.
    std::string packed_;
    std::uint32_t packed_count_ = 0;
    std::uint32_t packed_size_ = 0;
    std::uint64_t next_id_ = 1;
    bool ended_ = false;
    std::vector<std::weak_ptr<Subscription>> subscribers_;
};

}  // namespace forkrun::controller
