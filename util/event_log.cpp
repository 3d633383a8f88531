// stderr writer: one write(2) per batch of whole lines, on a thread of its own.
#include "util/event_log.hpp"

#include <unistd.h>

namespace forkrun::util {

namespace {

constexpr std::size_t kMaxPending = 8u << 20;
constexpr std::size_t kBatchBytes = 64u << 10;
constexpr auto kLinger = std::chrono::milliseconds(2);

void write_all(int fd, std::string_view bytes) {
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n <= 0) {
            return;  // a closed stderr must never stop the service
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace

void write_log_line(std::string_view json_line) {
    std::string line;
    line.reserve(json_line.size() + 1);
    line.append(json_line);
    line.push_back('\n');
    write_all(STDERR_FILENO, line);
}

void write_log_line(EventLog* log, std::string_view json_line) {
    if (log) {
        log->write(json_line);
    } else {
        write_log_line(json_line);
    }
}

EventLog::EventLog(int fd) : fd_(fd), writer_([this] { run(); }) {}

EventLog::~EventLog() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_one();
    writer_.join();
}

void EventLog::write(std::string_view json_line) {
    bool notify = false;
    {
        std::unique_lock lock(mu_);
        written_.wait(lock, [&] { return pending_.size() < kMaxPending; });
        const bool was_small = pending_.size() < kBatchBytes;
        pending_.append(json_line);
        pending_.push_back('\n');
        ++queued_;
        // Wake the writer only when it sleeps with nothing to do, or a batch is full; otherwise
        // it comes by itself within kLinger (a wake per line was a tenth of a run's creation).
        notify = idle_ || (was_small && pending_.size() >= kBatchBytes);
        idle_ = false;
    }
    if (notify) {
        wake_.notify_one();
    }
}

bool EventLog::flush(std::chrono::milliseconds max) {
    std::unique_lock lock(mu_);
    const auto target = queued_;
    ++flushing_;
    wake_.notify_one();
    const bool done = written_.wait_for(lock, max, [&] { return written_n_ >= target; });
    --flushing_;
    return done;
}

void EventLog::run() {
    std::string batch;
    std::unique_lock lock(mu_);
    for (;;) {
        if (pending_.empty()) {
            if (stop_) {
                return;  // everything is written
            }
            idle_ = true;
            wake_.wait(lock, [&] { return stop_ || !pending_.empty(); });
            continue;
        }
        // Let a batch gather for a moment, unless someone waits for it.
        wake_.wait_for(lock, kLinger,
                       [&] { return stop_ || flushing_ > 0 || pending_.size() >= kBatchBytes; });
        batch.swap(pending_);
        const auto lines = queued_;
        lock.unlock();
        write_all(fd_, batch);
        batch.clear();
        if (batch.capacity() > (1u << 20)) {
            batch.shrink_to_fit();  // a burst must not pin its buffer for good
        }
        lock.lock();
        written_n_ = lines;
        written_.notify_all();
    }
}

}  // namespace forkrun::util
