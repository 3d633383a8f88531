// Work that may wait for a spare core: one low-priority thread, a bounded queue.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace forkrun::util {

/// Runs jobs in order on one thread of its own, at a lower CPU priority (nice +10) than the
/// threads that post them, so under load they wait for a spare core instead of adding to a
/// request's time. The queue is bounded: a post while `max_pending` jobs wait runs the job on
/// the caller's thread, so a burst that never lets the thread run costs time, never memory.
/// The destructor runs what is still queued, then joins.
class BackgroundQueue {
  public:
    explicit BackgroundQueue(std::size_t max_pending = 256);
    ~BackgroundQueue();
    BackgroundQueue(const BackgroundQueue&) = delete;
    BackgroundQueue& operator=(const BackgroundQueue&) = delete;

    /// Any thread. False when the job ran inline (the queue was full).
    bool post(std::function<void()> job);

    /// Blocks until every job posted so far has run (tests, shutdown).
    void drain();

  private:
    void loop();

    const std::size_t max_pending_;
    std::mutex mu_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<std::function<void()>> jobs_;
    bool running_job_ = false;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace forkrun::util
