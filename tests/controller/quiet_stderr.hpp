// Quiets stderr (the run transition log) for a test that makes thousands of runs.
#pragma once

#include <fcntl.h>
#include <unistd.h>

namespace forkrun::controller {

/// Sends stderr (the run transition log) to /dev/null while alive.
class QuietStderr {
  public:
    QuietStderr() : saved_(::dup(STDERR_FILENO)) {
        const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            ::dup2(null, STDERR_FILENO);
            ::close(null);
        }
    }
    ~QuietStderr() {
        if (saved_ >= 0) {
            ::dup2(saved_, STDERR_FILENO);
            ::close(saved_);
        }
    }
    QuietStderr(const QuietStderr&) = delete;
    QuietStderr& operator=(const QuietStderr&) = delete;

  private:
    int saved_;
};

}  // namespace forkrun::controller
