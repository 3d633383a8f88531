// Starting one anvil child: a private HOME, pipes and a pidfd, then fork/execve without a shell,
// the child making only async-signal-safe calls until exec.
#include "forks/anvil_process_internal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

extern char** environ;

namespace forkrun::forks::detail {
namespace {

// Raw syscalls: glibc 2.36's <sys/pidfd.h> lacks extern "C", so its wrappers do not link from C++.
int pidfd_open(pid_t pid) noexcept {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
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

}  // namespace

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

}  // namespace forkrun::forks::detail
