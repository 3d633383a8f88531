// stderr writer: one write(2) per batch of whole lines, on a thread of its own.
#include "controller/event_log.hpp"

#include <unistd.h>

namespace forkrun::controller {

namespace {

constexpr std::size_t kMaxPending = 8u << 20;

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
    bool was_empty = false;
    {
        std::unique_lock lock(mu_);
        written_.wait(lock, [&] { return pending_.size() < kMaxPending; });
        was_empty = pending_.empty();
        pending_.append(json_line);
        pending_.push_back('\n');
        ++queued_;
    }
    if (was_empty) {
        wake_.notify_one();
    }
}

bool EventLog::flush(std::chrono::milliseconds max) {
    std::unique_lock lock(mu_);
    const auto target = queued_;
    return written_.wait_for(lock, max, [&] { return written_n_ >= target; });
}

void EventLog::run() {
    std::string batch;
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [&] { return stop_ || !pending_.empty(); });
        if (pending_.empty()) {
            return;  // stopping, and everything is written
        }
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

}  // namespace forkrun::controller
