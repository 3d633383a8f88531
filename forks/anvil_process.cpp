// Spawning, watching and stopping one anvil child with fork/execve, pipes and a pidfd on Asio.
#include "forks/anvil_process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/throw_exception.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>

extern char** environ;

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kStderrTailBytes = 4096;
constexpr std::size_t kStartupStdoutLimit = 64 * 1024;
constexpr std::chrono::milliseconds kKillWait{5000};
constexpr std::chrono::milliseconds kEarlyExitWait{2000};
constexpr std::chrono::milliseconds kStderrEofWait{1000};
/// SIGTERM to SIGKILL for the child of a cancelled spawn: it is not serving anyone yet.
constexpr std::chrono::milliseconds kCancelGrace{500};
/// No SIGTERM first: a child that failed to start is killed at once.
constexpr std::chrono::milliseconds kNoGrace{0};
constexpr std::string_view kListeningPrefix = "Listening on ";
constexpr auto kUseAwaitable = asio::as_tuple(asio::use_awaitable);

class AnvilCategory final : public std::error_category {
  public:
    const char* name() const noexcept override { return "forkrun.anvil"; }

    std::string message(int ev) const override {
        switch (static_cast<AnvilErrc>(ev)) {
            case AnvilErrc::kSpawnFailed:
                return "anvil could not be spawned";
            case AnvilErrc::kExitedEarly:
                return "anvil exited before it was ready";
            case AnvilErrc::kStartTimeout:
                return "anvil did not become ready in time";
            case AnvilErrc::kBadOutput:
                return "anvil printed no usable listening address";
            case AnvilErrc::kCancelled:
                return "spawning anvil was cancelled";
        }
        return "unknown anvil error";
    }
};

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

// Raw syscalls: glibc 2.36's <sys/pidfd.h> lacks extern "C", so its wrappers do not link from C++.
int pidfd_open(pid_t pid) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

int pidfd_send_signal(int pidfd, int sig) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0U));
}

std::string errno_text(int e) {
    return std::strerror(e);
}

/// Keeps descriptors off 0-2 so the child's dup2 onto stdio never clobbers one of them.
bool move_above_stdio(UniqueFd& fd) {
    if (fd.get() > 2) {
        return true;
    }
    const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) {
        return false;
    }
    fd.reset(moved);
    return true;
}

bool make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return false;
    }
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
    return move_above_stdio(read_end) && move_above_stdio(write_end);
}

/// Everything the child needs, prepared before fork so the child only makes async-signal-safe
/// calls.
struct ChildPlan {
    const char* path = nullptr;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    int stdin_fd = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;
    int status_fd = -1;  ///< O_CLOEXEC: closes on a successful exec, carries errno otherwise.
    pid_t parent = -1;
};

[[noreturn]] void exec_child(const ChildPlan& plan) noexcept {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            ::sigaction(sig, &dfl, nullptr);
        }
    }
    // The parent may have died between fork and prctl; then nobody would ever kill us.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != plan.parent) {
        ::_exit(127);
    }
    // Our own process group: a terminal's Ctrl-C reaches the service, which stops its forks.
    ::setpgid(0, 0);
    if (::dup2(plan.stdin_fd, STDIN_FILENO) < 0 || ::dup2(plan.stdout_fd, STDOUT_FILENO) < 0 ||
        ::dup2(plan.stderr_fd, STDERR_FILENO) < 0) {
        const int e = errno;
        (void)!::write(plan.status_fd, &e, sizeof e);
        ::_exit(127);
    }
    // CLOEXEC rather than close: status_fd must stay open until execve itself succeeds.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        struct rlimit limit {};
        const int top = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 65536
                            ? static_cast<int>(limit.rlim_cur)
                            : 65536;
        for (int fd = 3; fd < top; ++fd) {
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(plan.path, plan.argv, plan.envp);
    const int e = errno;
    (void)!::write(plan.status_fd, &e, sizeof e);
    ::_exit(127);
}

std::vector<std::string> anvil_args(const AnvilOptions& options) {
    std::vector<std::string> args{options.anvil_path, "--port", "0", "--host", "127.0.0.1"};
    if (options.chain_id != 0) {
        args.insert(args.end(), {"--chain-id", std::to_string(options.chain_id)});
    }
    if (options.fork_url) {
        args.insert(args.end(), {"--fork-url", *options.fork_url});
        if (options.fork_block) {
            args.insert(args.end(), {"--fork-block-number", std::to_string(*options.fork_block)});
        }
        // Only valid with a fork url; keeps anvil from writing an RPC cache under HOME.
        args.emplace_back("--no-storage-caching");
    }
    args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
    return args;
}

/// The parent's environment with HOME replaced.
std::vector<std::string> child_env(const std::string& home) {
    std::vector<std::string> env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        if (std::string_view(*entry).substr(0, 5) != "HOME=") {
            env.emplace_back(*entry);
        }
    }
    env.push_back("HOME=" + home);
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) {
        out.push_back(s.data());
    }
    out.push_back(nullptr);
    return out;
}

/// Collapses stderr's lines and runs of blanks into one line for an error sentence.
std::string one_line(std::string_view text) {
    std::string out;
    bool blank = false;
    for (const char c : text) {
        if (std::isspace(static_cast<unsigned char>(c)) != 0) {
            blank = true;
            continue;
        }
        if (blank && !out.empty()) {
            out.push_back(' ');
        }
        blank = false;
        out.push_back(c);
    }
    return out;
}

/// The port of a complete `Listening on HOST:PORT` line: nullopt while the line is not complete
/// yet, 0 when it is complete but unusable.
std::optional<std::uint16_t> find_port(std::string_view out) {
    const auto at = out.find(kListeningPrefix);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    const auto end = out.find('\n', at);
    if (end == std::string_view::npos) {
        return std::nullopt;
    }
    auto line = out.substr(at + kListeningPrefix.size(), end - at - kListeningPrefix.size());
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())) != 0) {
        line.remove_suffix(1);
    }
    const auto colon = line.rfind(':');
    if (colon == std::string_view::npos) {
        return std::uint16_t{0};
    }
    const auto digits = line.substr(colon + 1);
    std::uint16_t port = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc{} || ptr != digits.data() + digits.size()) {
        return std::uint16_t{0};
    }
    return port;
}

}  // namespace

const std::error_category& anvil_category() noexcept {
    static const AnvilCategory category;
    return category;
}

std::error_code make_error_code(AnvilErrc e) noexcept {
    return {static_cast<int>(e), anvil_category()};
}

void throw_exception_from_error(const AnvilError& e, const boost::source_location& loc) {
    boost::throw_with_location(std::system_error(e.error_code(), e.message), loc);
}

struct AnvilProcess::State {
    explicit State(asio::any_io_executor ex)
        : executor(ex),
          pidfd(ex),
          out(ex),
          err(ex),
          err_eof_event(ex, Clock::time_point::max()),
          stop_done(ex, Clock::time_point::max()) {}

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
        if (pidfd_send_signal(pidfd_raw, SIGKILL) != 0 && errno != ESRCH) {
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
        if (err_tail.size() > kStderrTailBytes) {
            err_tail.erase(0, err_tail.size() - kStderrTailBytes);
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
        const auto tail = one_line(err_tail);
        if (!tail.empty()) {
            sentence += ": " + tail;
        } else {
            sentence += " (nothing on stderr)";
        }
        return sentence;
    }

    asio::any_io_executor executor;
    pid_t pid = -1;
    int pidfd_raw = -1;  ///< Owned by `pidfd`; kept for waitid and pidfd_send_signal.
    asio::posix::stream_descriptor pidfd;
    asio::posix::stream_descriptor out;
    asio::posix::stream_descriptor err;
    std::uint16_t port = 0;
    std::string url;
    std::string home;
    bool remove_home = false;

    std::string err_tail;
    bool err_eof = false;
    asio::steady_timer err_eof_event;  ///< Cancelled when stderr reaches end of file.

    bool reaped = false;
    bool signaled = false;
    int exit_value = -1;  ///< Exit code or signal number; -1 when unknown.

    bool stopping = false;
    std::optional<StopResult> stop_result;
    asio::steady_timer stop_done;  ///< Cancelled when stop_result is set.

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

namespace {

using State = AnvilProcess::State;

/// Keeps the tail of stderr; ends at end of file or when the descriptor is closed.
asio::awaitable<void> drain_stderr(std::shared_ptr<State> state) {
    std::array<char, 4096> buffer;
    for (;;) {
        auto [ec, n] = co_await state->err.async_read_some(asio::buffer(buffer), kUseAwaitable);
        state->append_stderr({buffer.data(), n});
        if (ec) {
            break;
        }
    }
    state->err_eof = true;
    state->err_eof_event.cancel();
}

/// anvil logs every RPC call to stdout; a full pipe would stall it, so read and drop.
asio::awaitable<void> drain_stdout(std::shared_ptr<State> state) {
    std::array<char, 4096> buffer;
    for (;;) {
        auto [ec, n] = co_await state->out.async_read_some(asio::buffer(buffer), kUseAwaitable);
        if (ec) {
            break;
        }
    }
}

/// True once the child has exited; false at the deadline or on cancellation.
asio::awaitable<bool> wait_exited(std::shared_ptr<State> state, Clock::time_point deadline) {
    if (state->exited()) {
        co_return true;
    }
    if (!state->pidfd.is_open()) {
        co_return false;
    }
    asio::steady_timer timer(state->executor, deadline);
    co_await asio::experimental::make_parallel_group(
        state->pidfd.async_wait(asio::posix::descriptor_base::wait_read, asio::deferred),
        timer.async_wait(asio::deferred))
        .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    co_return state->exited();
}

/// Waits (bounded) for stderr to reach end of file, so an error message has anvil's last words.
asio::awaitable<void> wait_stderr_eof(std::shared_ptr<State> state, Clock::time_point deadline) {
    if (state->err_eof) {
        co_return;
    }
    state->err_eof_event.expires_at(deadline);
    co_await state->err_eof_event.async_wait(kUseAwaitable);
}

/// Creates HOME and the pipes, forks and execs; on success the state owns the child and its
/// descriptors, and the returned descriptor reports exec's errno (end of file: exec succeeded).
boost::system::result<UniqueFd, AnvilError> launch(const AnvilOptions& options, State& state) {
    auto fail = [](std::string message) {
        return AnvilError{AnvilErrc::kSpawnFailed, std::move(message)};
    };
    if (options.anvil_path.empty()) {
        return fail("cannot spawn anvil: anvil_path is empty");
    }
    if (options.fork_block && !options.fork_url) {
        return fail("cannot spawn anvil: fork_block is set without fork_url");
    }

    if (options.home_dir.empty()) {
        std::error_code ec;
        auto pattern = (std::filesystem::temp_directory_path(ec) / "forkrun-anvil-XXXXXX").string();
        if (ec || ::mkdtemp(pattern.data()) == nullptr) {
            return fail("cannot spawn anvil: cannot create a private HOME under the temp dir: " +
                        (ec ? ec.message() : errno_text(errno)));
        }
        state.home = pattern;
        state.remove_home = true;
    } else {
        std::error_code ec;
        std::filesystem::create_directories(options.home_dir, ec);
        if (ec) {
            return fail("cannot spawn anvil: cannot create HOME " + options.home_dir + ": " +
                        ec.message());
        }
        state.home = options.home_dir;
    }

    auto args = anvil_args(options);
    auto env = child_env(state.home);
    const auto argv = c_strings(args);
    const auto envp = c_strings(env);

    UniqueFd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    UniqueFd out_read, out_write, err_read, err_write, status_read, status_write;
    if (null_in.get() < 0 || !move_above_stdio(null_in) || !make_pipe(out_read, out_write) ||
        !make_pipe(err_read, err_write) || !make_pipe(status_read, status_write)) {
        return fail("cannot spawn anvil: cannot create pipes: " + errno_text(errno));
    }

    const ChildPlan plan{options.anvil_path.c_str(),
                         argv.data(),
                         envp.data(),
                         null_in.get(),
                         out_write.get(),
                         err_write.get(),
                         status_write.get(),
                         ::getpid()};

    // Blocked across fork so no parent handler runs in the child before it resets them.
    sigset_t all, previous;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &previous);
    const pid_t pid = ::fork();
    if (pid == 0) {
        exec_child(plan);
    }
    const int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) {
        return fail("cannot spawn anvil: fork failed: " + errno_text(fork_errno));
    }

    UniqueFd pidfd(pidfd_open(pid));
    if (pidfd.get() < 0) {
        const int e = errno;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return fail("cannot spawn anvil: pidfd_open failed: " + errno_text(e));
    }
    ::fcntl(pidfd.get(), F_SETFD, FD_CLOEXEC);

    state.pid = pid;
    state.pidfd_raw = pidfd.get();
    state.pidfd.assign(pidfd.release());
    state.out.assign(out_read.release());
    state.err.assign(err_read.release());
    return status_read;
}

asio::awaitable<StopResult> stop_impl(std::shared_ptr<State> state,
                                      std::chrono::milliseconds grace) {
    if (state->stop_result) {
        co_return *state->stop_result;
    }
    if (state->stopping) {
        while (!state->stop_result) {
            co_await state->stop_done.async_wait(kUseAwaitable);
        }
        co_return *state->stop_result;
    }
    state->stopping = true;
    const auto started = Clock::now();
    StopResult result;

    if (state->exited()) {
        result.already_exited = true;
    } else {
        bool exited = false;
        if (grace.count() > 0) {
            if (pidfd_send_signal(state->pidfd_raw, SIGTERM) != 0 && errno != ESRCH) {
                result.error = "SIGTERM failed: " + errno_text(errno) + "; ";
            }
            exited = co_await wait_exited(state, started + grace);
        }
        if (!exited) {
            result.killed = true;
            pidfd_send_signal(state->pidfd_raw, SIGKILL);
            co_await wait_exited(state, Clock::now() + kKillWait);
        }
    }

    if (state->try_reap()) {
        result.ok = true;
        result.error.clear();
        result.status = state->describe_exit();
        state->release();
    } else {
        result.error += "anvil (pid " + std::to_string(state->pid) + ") did not exit within " +
                        std::to_string(kKillWait.count()) + " ms of SIGKILL";
        result.status = state->describe_exit();
    }
    result.took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    state->stop_result = result;
    state->stop_done.cancel();
    co_return result;
}

/// Stops a child that will not become a fork (SIGTERM first when `grace` is positive, else
/// SIGKILL at once), waiting for its exit on the executor rather than in a blocking waitpid, and
/// reaps it; then the error to report. Runs to its end even if the spawn was cancelled.
asio::awaitable<AnvilError> give_up(std::shared_ptr<State> state,
                                    AnvilErrc code,
                                    std::string message,
                                    std::chrono::milliseconds grace) {
    co_await asio::co_spawn(
        state->executor, stop_impl(state, grace),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    state->release();
    co_return AnvilError{code, std::move(message)};
}

/// give_up() for a cancelled spawn: SIGTERM, and SIGKILL after kCancelGrace.
asio::awaitable<AnvilError> give_up_cancelled(std::shared_ptr<State> state) {
    // Named, not temporaries in the co_await: GCC 12 mishandles those.
    std::string message = "spawning anvil was cancelled; the child was stopped";
    const auto grace = kCancelGrace;
    co_return co_await give_up(std::move(state), AnvilErrc::kCancelled, std::move(message), grace);
}

using StartResult = boost::system::result<std::shared_ptr<State>, AnvilError>;

/// AnvilProcess::spawn() in a coroutine of its own, so that it can see its cancellation as a
/// value (and still stop its child) without changing how the caller's coroutine treats one.
asio::awaitable<StartResult> start_child(AnvilOptions options) {
    co_await asio::this_coro::throw_if_cancelled(false);
    const auto ex = co_await asio::this_coro::executor;
    const auto cancellation = co_await asio::this_coro::cancellation_state;
    // Checked before every co_await: an operation started after the cancel would not see it.
    auto cancelled = [&cancellation] {
        return cancellation.cancelled() != asio::cancellation_type::none;
    };

    SpawnPermit permit;
    if (options.spawn_limiter) {
        if (!cancelled()) {
            permit = co_await options.spawn_limiter->acquire();
        }
        if (cancelled()) {
            co_return AnvilError{AnvilErrc::kCancelled,
                                 "spawning anvil was cancelled while it waited for its turn to "
                                 "start; no process was started"};
        }
        if (!permit) {
            co_return AnvilError{AnvilErrc::kCancelled,
                                 "spawning anvil was cancelled: no more anvils are being started "
                                 "(the server is shutting down)"};
        }
    }
    const auto deadline = Clock::now() + options.start_timeout;
    auto state = std::make_shared<State>(ex);
    auto launched = launch(options, *state);
    if (!launched) {
        state->release();
        co_return launched.error();
    }

    asio::posix::stream_descriptor exec_status(ex, launched->release());
    int exec_errno = 0;
    std::size_t got = 0;
    while (got < sizeof exec_errno && !cancelled()) {
        auto [ec, n] = co_await exec_status.async_read_some(
            asio::buffer(reinterpret_cast<char*>(&exec_errno) + got, sizeof exec_errno - got),
            kUseAwaitable);
        got += n;
        if (ec) {
            break;
        }
    }
    if (cancelled()) {
        co_return co_await give_up_cancelled(state);
    }
    if (got != 0) {
        auto message =
            "cannot execute " + options.anvil_path + ": " +
            (got == sizeof exec_errno ? errno_text(exec_errno) : std::string("unknown error"));
        co_return co_await give_up(state, AnvilErrc::kSpawnFailed, std::move(message), kNoGrace);
    }
    asio::co_spawn(ex, drain_stderr(state), asio::detached);

    asio::steady_timer timer(ex, deadline);
    std::string out_text;
    std::array<char, 4096> buffer;
    bool exited = false;
    for (;;) {
        if (cancelled()) {
            co_return co_await give_up_cancelled(state);
        }
        auto [order, read_ec, n, exit_ec, timer_ec] =
            co_await asio::experimental::make_parallel_group(
                state->out.async_read_some(asio::buffer(buffer), asio::deferred),
                state->pidfd.async_wait(asio::posix::descriptor_base::wait_read, asio::deferred),
                timer.async_wait(asio::deferred))
                .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
        (void)order;
        out_text.append(buffer.data(), n);
        if (const auto port = find_port(out_text)) {
            if (*port == 0) {
                auto message = "anvil printed an unusable listening address: " +
                               one_line(out_text.substr(out_text.find(kListeningPrefix)));
                co_return co_await give_up(state, AnvilErrc::kBadOutput, std::move(message),
                                           kNoGrace);
            }
            state->port = *port;
            break;
        }
        if (out_text.size() > kStartupStdoutLimit) {
            auto message = state->with_stderr("anvil printed " + std::to_string(out_text.size()) +
                                              " bytes without a 'Listening on' line");
            co_return co_await give_up(state, AnvilErrc::kBadOutput, std::move(message), kNoGrace);
        }
        if ((read_ec && read_ec != asio::error::operation_aborted) || !exit_ec) {
            exited = true;
            break;
        }
        if (!timer_ec) {
            auto message = state->with_stderr("anvil did not report a listening address within " +
                                              std::to_string(options.start_timeout.count()) +
                                              " ms and was killed");
            co_return co_await give_up(state, AnvilErrc::kStartTimeout, std::move(message),
                                       kNoGrace);
        }
    }

    if (exited) {
        // stdout closed or the pidfd fired: collect the status and the rest of stderr.
        if (!cancelled()) {
            co_await wait_exited(state, Clock::now() + kEarlyExitWait);
        }
        if (!cancelled()) {
            co_await wait_stderr_eof(state, Clock::now() + kStderrEofWait);
        }
        if (cancelled()) {
            co_return co_await give_up_cancelled(state);
        }
        if (!state->try_reap()) {
            auto message = state->with_stderr(
                "anvil closed its stdout without printing a 'Listening on' line and was killed");
            co_return co_await give_up(state, AnvilErrc::kBadOutput, std::move(message), kNoGrace);
        }
        auto message =
            state->with_stderr("anvil " + state->describe_exit() + " before it was ready");
        state->release();
        co_return AnvilError{AnvilErrc::kExitedEarly, std::move(message)};
    }

    permit.release();
    state->url = "http://127.0.0.1:" + std::to_string(state->port);
    asio::co_spawn(ex, drain_stdout(state), asio::detached);
    co_return state;
}

}  // namespace

asio::awaitable<AnvilProcess::SpawnResult> AnvilProcess::spawn(AnvilOptions options) {
    const auto ex = co_await asio::this_coro::executor;
    const auto cancellation = co_await asio::this_coro::cancellation_state;
    if (cancellation.cancelled() != asio::cancellation_type::none) {
        // co_await would throw instead of answering.
        co_return AnvilError{
            AnvilErrc::kCancelled,
            "spawning anvil was cancelled before it began; no process was started"};
    }
    // The caller's cancellation reaches start_child through co_spawn.
    auto started =
        co_await asio::co_spawn(ex, start_child(std::move(options)), asio::use_awaitable);
    if (!started) {
        co_return started.error();
    }
    co_return std::unique_ptr<AnvilProcess>(new AnvilProcess(std::move(*started)));
}

AnvilProcess::AnvilProcess(std::shared_ptr<State> state) : state_(std::move(state)) {}

AnvilProcess::~AnvilProcess() {
    kill_now();
}

pid_t AnvilProcess::pid() const noexcept {
    return state_->pid;
}

std::uint16_t AnvilProcess::port() const noexcept {
    return state_->port;
}

const std::string& AnvilProcess::url() const noexcept {
    return state_->url;
}

const std::string& AnvilProcess::home_dir() const noexcept {
    return state_->home;
}

bool AnvilProcess::running() const noexcept {
    return !state_->exited();
}

std::string AnvilProcess::stderr_tail() const {
    return state_->err_tail;
}

asio::awaitable<StopResult> AnvilProcess::stop(std::chrono::milliseconds grace) {
    auto state = state_;
    // A separate coroutine with no cancellation slot: a cancelled caller must not cut teardown
    // short.
    co_return co_await asio::co_spawn(
        state->executor, stop_impl(state, grace),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
}

asio::awaitable<boost::system::result<int>> AnvilProcess::wait_exit() {
    auto state = state_;
    for (;;) {
        if (state->try_reap()) {
            co_return state->shell_status();
        }
        auto [ec] = co_await state->pidfd.async_wait(asio::posix::descriptor_base::wait_read,
                                                     kUseAwaitable);
        if (ec && !state->try_reap()) {
            co_return ec;
        }
    }
}

void AnvilProcess::kill_now() noexcept {
    state_->kill_and_reap();
    state_->release();
}

}  // namespace forkrun::forks
