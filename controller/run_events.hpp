// What a run tells its event stream, and the organization streams: events made by comparing a
// run after each change with what was last published.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/event_stream.hpp"
#include "controller/run.hpp"

namespace forkrun::controller {

class RunEvents;

/// The organization streams, and the timer that sends each run's pending `cu` event (at most
/// ten a second per run). Thread-safe.
class EventBus {
  public:
    static constexpr std::chrono::milliseconds kCuInterval{100};

    /// The `cu` timer runs on `ex`.
    EventBus(boost::asio::any_io_executor ex,
             std::size_t keep = EventStream::kDefaultKeep,
             std::size_t byte_cap = EventStream::kDefaultByteCap);
    ~EventBus();
    EventBus(const EventBus&) = delete;
    EventBus& operator=(const EventBus&) = delete;

    /// The stream of `run` and `end` events of `organization_id` (made on first use).
    std::shared_ptr<EventStream> organization(const std::string& organization_id);

    /// A new run's events, published to its own stream and (`run`, `end`) the organization's.
    std::shared_ptr<RunEvents> open(const Run& run);

    /// Sends `run`'s pending `cu` event within kCuInterval.
    void flush_later(std::weak_ptr<RunEvents> run);

    /// Called with every run event as it is published (a durable store keeping them); before
    /// the first run opens. None: nothing is done.
    using Sink = std::function<void(const std::string& run_id, const Event& e)>;
    void set_sink(Sink sink) { sink_ = std::move(sink); }
    const Sink& sink() const { return sink_; }

    std::size_t keep() const { return keep_; }
    std::size_t byte_cap() const { return byte_cap_; }

  private:
    struct Timer;

    const std::size_t keep_;
    const std::size_t byte_cap_;
    std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<EventStream>> orgs_;
    std::shared_ptr<Timer> timer_;
    Sink sink_;
};

/// One run's events. observe() is called with the run's record locked, after every change.
class RunEvents : public std::enable_shared_from_this<RunEvents> {
  public:
    RunEvents(const Run& run, EventBus& bus, std::shared_ptr<EventStream> org);

    /// Publishes what changed in `run` since the last call; the first call publishes the first
    /// `run` event (previousStatus null). The terminal status publishes `cancellation` (when
    /// there is one), `run` and `end`, then ends the stream.
    void observe(const Run& run);

    /// Publishes a pending `cu` event (the bus's timer).
    void flush_cu();

    EventStream& stream() { return stream_; }

  private:
    void publish(std::string type, std::string data, bool to_org);
    /// A `fork` event for each fork whose state or queue place changed.
    void publish_forks(const Run& run, const std::function<const std::string&()>& at);
    /// The `end` of a terminal run, once none of its forks is kept.
    void end_unless_kept(const Run& run);

    EventBus& bus_;
    std::shared_ptr<EventStream> org_;
    EventStream stream_;
    const std::string run_id_;
    const std::string workflow_id_;
    const bool is_simulation_;

    std::mutex mu_;
    bool started_ = false;
    RunStatus status_ = RunStatus::kWaiting;
    std::vector<NodeStatus> nodes_;
    // What a fork event last said of each fork: its state and its place in a pool's queue.
    struct ForkSeen {
        ForkState state = ForkState::kProvisioning;
        std::optional<std::uint32_t> queue_position;
        bool operator==(const ForkSeen&) const = default;
    };
    std::vector<ForkSeen> forks_;
    std::uint64_t total_cu_ = 0;                     // the latest seen
    std::uint64_t sent_cu_ = 0;                      // the latest sent (in `cu` or `run`)
    std::chrono::steady_clock::time_point cu_at_{};  // when the last `cu` went out
    bool flush_armed_ = false;
    bool kept_ = false;  // terminal, with forks kept: `end` waits for their release
};

}  // namespace forkrun::controller
