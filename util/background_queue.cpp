// BackgroundQueue: a nice'd worker thread and its bounded queue.
#include "util/background_queue.hpp"

#include <sys/resource.h>
#include <unistd.h>

namespace forkrun::util {

BackgroundQueue::BackgroundQueue(std::size_t max_pending)
    : max_pending_(max_pending), thread_([this] { loop(); }) {}

BackgroundQueue::~BackgroundQueue() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

bool BackgroundQueue::post(std::function<void()> job) {
    {
        std::lock_guard lock(mu_);
        if (jobs_.size() < max_pending_ && !stop_) {
            jobs_.push_back(std::move(job));
            wake_.notify_one();
            return true;
        }
    }
    job();
    return false;
}

void BackgroundQueue::drain() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return jobs_.empty() && !running_job_; });
}

void BackgroundQueue::loop() {
    // Linux applies a thread's nice value to that thread alone.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (jobs_.empty()) {
            return;  // stopping, and nothing is left
        }
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        running_job_ = true;
        lock.unlock();
        job();
        lock.lock();
        running_job_ = false;
        if (jobs_.empty()) {
            idle_.notify_all();
        }
    }
}

}  // namespace forkrun::util
