// One JSON line per event on stderr: request logs and run transitions share this writer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace forkrun::util {

/// Writes `json_line` and a newline to stderr in one write(2), so concurrent lines never mix.
void write_log_line(std::string_view json_line);

/// Event lines written by a thread of its own, in batches: a thread that logs only appends to a
/// buffer, and never makes a system call per line (on a loaded server that call was an eighth of
/// a run's creation). Lines stay whole and in the order they were logged, and reach the fd
/// within a few milliseconds.
class EventLog {
  public:
    /// Writes to `fd` (stderr by default); the fd is not closed.
    explicit EventLog(int fd = 2);
    /// Writes every line logged so far, then stops the writer.
    ~EventLog();
    EventLog(const EventLog&) = delete;
    EventLog& operator=(const EventLog&) = delete;

    /// Queues `json_line` and a newline. Waits only when stderr is so slow that 8 MiB of lines
    /// are queued (then logging slows the caller, as a direct write would).
    void write(std::string_view json_line);
    /// Returns once every line queued before the call is written, or after `max` (then false).
    bool flush(std::chrono::milliseconds max = std::chrono::hours(1));

  private:
    void run();

    const int fd_;
    std::mutex mu_;
    std::condition_variable wake_;     // the writer: lines are queued, or stop
    std::condition_variable written_;  // flush(): a batch was written
    std::string pending_;
    std::uint64_t queued_ = 0;     // lines queued so far
    std::uint64_t written_n_ = 0;  // lines written so far
    bool stop_ = false;
    bool idle_ = false;  // the writer sleeps until a line comes
    int flushing_ = 0;   // flush() calls waiting
    std::thread writer_;
};

/// Logs through `log`, or straight to stderr when it is null.
void write_log_line(EventLog* log, std::string_view json_line);

}  // namespace forkrun::util
