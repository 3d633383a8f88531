// Deferred work runs, in order, off the poster's thread, and a full queue costs time, not memory.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "util/background_queue.hpp"

namespace forkrun::util {
namespace {

TEST(BackgroundQueue, JobsRunInOrderOnAnotherThread) {
    BackgroundQueue q;
    std::mutex mu;
    std::vector<int> order;
    std::vector<std::thread::id> threads;
    for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(q.post([&, i] {
            std::lock_guard lock(mu);
            order.push_back(i);
            threads.push_back(std::this_thread::get_id());
        }));
    }
    q.drain();
    ASSERT_EQ(order.size(), 100u);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
        EXPECT_NE(threads[static_cast<std::size_t>(i)], std::this_thread::get_id());
    }
}

TEST(BackgroundQueue, AFullQueueRunsTheJobOnTheCaller) {
    BackgroundQueue q(2);
    std::promise<void> release;
    auto gate = release.get_future().share();
    std::promise<void> started;
    // The worker is held in a job, then two jobs fill the queue.
    EXPECT_TRUE(q.post([&] {
        started.set_value();
        gate.wait();
    }));
    started.get_future().wait();
    std::atomic<int> ran{0};
    EXPECT_TRUE(q.post([&] { ++ran; }));
    EXPECT_TRUE(q.post([&] { ++ran; }));
    std::thread::id where;
    EXPECT_FALSE(q.post([&] { where = std::this_thread::get_id(); }));
    EXPECT_EQ(where, std::this_thread::get_id());  // ran at once, here
    release.set_value();
    q.drain();
    EXPECT_EQ(ran.load(), 2);
}

TEST(BackgroundQueue, TheDestructorRunsWhatIsQueued) {
    std::atomic<int> ran{0};
    {
        BackgroundQueue q;
        for (int i = 0; i < 50; ++i) {
            q.post([&] { ++ran; });
        }
    }
    EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace forkrun::util
