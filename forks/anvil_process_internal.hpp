// The pieces of AnvilProcess shared by its files: the child's state (reaping through its pidfd,
// how it exited, the tail of its stderr), raw descriptors, and the launch and stop steps.
#pragma once

#include "forks/anvil_process.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/result.hpp>

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace forkrun::forks::detail {

using Clock = std::chrono::steady_clock;

inline constexpr std::size_t kStderrTailBytes = 4096;
inline constexpr auto kUseAwaitable = boost::asio::as_tuple(boost::asio::use_awaitable);

/// A raw descriptor until it is handed to Asio.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        reset(std::exchange(other.fd_, -1));
        return *this;
    }
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = fd;
    }

  private:
    int fd_ = -1;
};

// Raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C", so its wrappers do not link from C++.
inline int pidfd_send_signal(int pidfd, int sig) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0U));
}

inline std::string errno_text(int e) {
    return std::strerror(e);
}

/// Collapses stderr's lines and runs of blanks into one line for an error sentence.
std::string one_line(std::string_view text);

}  // namespace forkrun::forks::detail

namespace forkrun::forks {

struct AnvilProcess::State {
    explicit State(boost::asio::any_io_executor ex)
        : executor(ex),
          pidfd(ex),
          out(ex),
          err(ex),
          err_eof_event(ex, detail::Clock::time_point::max()),
          stop_done(ex, detail::Clock::time_point::max()) {}

    State(const State&) = delete;
    State& operator=(const State&) = delete;

    ~State() {
        kill_and_reap();
        release();
    }

    /// Reaps the child if it has exited; true once it is reaped.
    bool try_reap() noexcept {
        if (reaped || pidfd_raw < 0) {
            return reaped;
        }
        siginfo_t info{};
        if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_raw), &info, WEXITED | WNOHANG) == 0) {
            if (info.si_pid != 0) {
                record(info);
            }
        } else if (errno == ECHILD) {
            record_unknown();
        }
        return reaped;
    }

    /// Whether the child has exited, without reaping it.
    bool exited() const noexcept {
        if (reaped || pidfd_raw < 0) {
            return true;
        }
        siginfo_t info{};
        if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_raw), &info, WEXITED | WNOHANG | WNOWAIT) ==
            0) {
            return info.si_pid != 0;
        }
        return errno == ECHILD;
    }

    void kill_and_reap() noexcept {
        if (reaped || pidfd_raw < 0) {
            return;
        }
        if (detail::pidfd_send_signal(pidfd_raw, SIGKILL) != 0 && errno != ESRCH) {
            ::kill(pid, SIGKILL);
        }
        // waitid on the pidfd would not block: Asio made it O_NONBLOCK. The child is ours and
        // unreaped, so its pid cannot have been reused.
        int status = 0;
        while (::waitpid(pid, &status, 0) != pid) {
            if (errno != EINTR) {
                record_unknown();
                return;
            }
        }
        reaped = true;
        signaled = WIFSIGNALED(status);
        exit_value = signaled ? WTERMSIG(status) : WEXITSTATUS(status);
    }

    /// Closes every descriptor (waking whoever waits on them) and removes the private HOME. Only
    /// after the child is reaped: the pidfd is what reaps it.
    void release() noexcept {
        if (!reaped && pidfd_raw >= 0) {
            return;
        }
        boost::system::error_code ignored;
        out.close(ignored);
        err.close(ignored);
        pidfd.close(ignored);
        pidfd_raw = -1;
        if (remove_home && !home.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(home, ec);
            remove_home = false;
        }
    }

    void append_stderr(std::string_view text) {
        err_tail.append(text);
        if (err_tail.size() > detail::kStderrTailBytes) {
            err_tail.erase(0, err_tail.size() - detail::kStderrTailBytes);
        }
    }

    /// Shell-style: the exit code, or 128 + the signal number; -1 when unknown.
    int shell_status() const noexcept {
        if (exit_value < 0) {
            return -1;
        }
        return signaled ? 128 + exit_value : exit_value;
    }

    std::string describe_exit() const {
        if (!reaped) {
            return "is still running";
        }
        if (exit_value < 0) {
            return "exited (status unknown: it was reaped elsewhere)";
        }
        if (!signaled) {
            return "exited with status " + std::to_string(exit_value);
        }
        const char* abbrev = ::sigabbrev_np(exit_value);
        return "was killed by " + (abbrev != nullptr ? "SIG" + std::string(abbrev)
                                                     : "signal " + std::to_string(exit_value));
    }

    /// `sentence`, then anvil's own words when it wrote any to stderr.
    std::string with_stderr(std::string sentence) const {
        const auto tail = detail::one_line(err_tail);
        if (!tail.empty()) {
            sentence += ": " + tail;
        } else {
            sentence += " (nothing on stderr)";
        }
        return sentence;
    }

    boost::asio::any_io_executor executor;
    pid_t pid = -1;
    int pidfd_raw = -1;  ///< Owned by `pidfd`; kept for waitid and pidfd_send_signal.
    boost::asio::posix::stream_descriptor pidfd;
    boost::asio::posix::stream_descriptor out;
    boost::asio::posix::stream_descriptor err;
    std::uint16_t port = 0;
    std::string url;
    std::string home;
    bool remove_home = false;

    std::string err_tail;
    bool err_eof = false;
    boost::asio::steady_timer err_eof_event;  ///< Cancelled when stderr reaches end of file.

    bool reaped = false;
    bool signaled = false;
    int exit_value = -1;  ///< Exit code or signal number; -1 when unknown.

    bool stopping = false;
    std::optional<StopResult> stop_result;
    boost::asio::steady_timer stop_done;  ///< Cancelled when stop_result is set.

  private:
    void record(const siginfo_t& info) noexcept {
        reaped = true;
        signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
        exit_value = info.si_status;
    }

    void record_unknown() noexcept {
        reaped = true;
        exit_value = -1;
    }
};

}  // namespace forkrun::forks

namespace forkrun::forks::detail {

using State = AnvilProcess::State;

/// Creates HOME and the pipes, forks and execs; on success the state owns the child and its
/// descriptors, and the returned descriptor reports exec's errno (end of file: exec succeeded).
boost::system::result<UniqueFd, AnvilError> launch(const AnvilOptions& options, State& state);

/// True once the child has exited; false at the deadline or on cancellation.
boost::asio::awaitable<bool> wait_exited(std::shared_ptr<State> state, Clock::time_point deadline);

/// SIGTERM (when `grace` is positive), up to `grace` for the exit, then SIGKILL; reaps the child
/// and releases its descriptors and private HOME. Idempotent; see AnvilProcess::stop().
boost::asio::awaitable<StopResult> stop_impl(std::shared_ptr<State> state,
                                             std::chrono::milliseconds grace);

}  // namespace forkrun::forks::detail

namespace forkrun::forks {

// The files of AnvilProcess name these unqualified, as they did when they were one file.
using detail::Clock;
using detail::errno_text;
using detail::kUseAwaitable;
using detail::launch;
using detail::one_line;
using detail::State;
using detail::stop_impl;
using detail::wait_exited;

}  // namespace forkrun::forks
