// The batched event log: every line logged from several threads arrives whole, once, in each
// thread's order, and flush() and the destructor leave nothing unwritten.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "util/event_log.hpp"

namespace forkrun::util {
namespace {

class TempFile {
  public:
    TempFile() {
        char name[] = "/tmp/forkrun_event_log_XXXXXX";
        fd_ = ::mkstemp(name);
        path_ = name;
    }
    ~TempFile() {
        ::close(fd_);
        std::remove(path_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    int fd() const { return fd_; }
    std::vector<std::string> lines() const {
        std::ifstream in(path_);
        std::vector<std::string> out;
        for (std::string l; std::getline(in, l);) {
            out.push_back(l);
        }
        return out;
    }

  private:
    int fd_;
    std::string path_;
};

std::string line_of(int thread, int i) {
    return "{\"thread\":" + std::to_string(thread) + ",\"i\":" + std::to_string(i) + ",\"pad\":\"" +
           std::string(static_cast<std::size_t>(i % 97), 'x') + "\"}";
}

TEST(EventLog, LinesFromManyThreadsArriveWholeOnceAndInEachThreadsOrder) {
    TempFile file;
    constexpr int kThreads = 4;
    constexpr int kLines = 20000;
    {
        util::EventLog log(file.fd());
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&log, t] {
                for (int i = 0; i < kLines; ++i) {
                    log.write(line_of(t, i));
                }
            });
        }
        for (auto& th : threads) {
            th.join();
        }
    }  // the destructor writes what is still queued
    const auto lines = file.lines();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLines));
    std::vector<int> next(kThreads, 0);
    for (const auto& l : lines) {
        int t = -1;
        int i = -1;
        ASSERT_EQ(std::sscanf(l.c_str(), "{\"thread\":%d,\"i\":%d", &t, &i), 2) << l;
        ASSERT_GE(t, 0);
        ASSERT_LT(t, kThreads);
        ASSERT_EQ(i, next[static_cast<std::size_t>(t)]) << "thread " << t << " out of order";
        ASSERT_EQ(l, line_of(t, i)) << "a line was cut or mixed with another";
        ++next[static_cast<std::size_t>(t)];
    }
}

TEST(EventLog, FlushReturnsOnceEveryLineLoggedBeforeItIsWritten) {
    TempFile file;
    util::EventLog log(file.fd());
    for (int i = 0; i < 1000; ++i) {
        log.write(line_of(0, i));
    }
    ASSERT_TRUE(log.flush());
    const auto lines = file.lines();
    ASSERT_EQ(lines.size(), 1000u);
    EXPECT_EQ(lines.back(), line_of(0, 999));
    EXPECT_TRUE(log.flush()) << "nothing queued: flush returns at once";
}

}  // namespace
}  // namespace forkrun::util
