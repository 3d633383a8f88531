// A real `forkrun serve` child process for the black-box tests: tokens file, URL, logs, shutdown.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace forkrun::http::test {

using namespace std::chrono_literals;

/// Tokens the fixture's tokens file grants (see `write_tokens_file`).
inline constexpr const char* kTokenARw = "tok_a_rw";
inline constexpr const char* kTokenARo = "tok_a_ro";
inline constexpr const char* kTokenAWo = "tok_a_wo";
inline constexpr const char* kTokenBRw = "tok_b_rw";
/// Listed only by its sha256 (`tokenSha256`); subject "carol" of org_a, both scopes.
inline constexpr const char* kTokenAHashed = "tok_a_hashed";
/// printf %s tok_a_hashed | sha256sum
inline constexpr const char* kTokenAHashedSha256 =
    "fb7a5536726751ad715251ee19a0cbbbe6f4a08c401e051347f7edf25f72b1fb";
inline constexpr const char* kOrgA = "org_a";
inline constexpr const char* kOrgB = "org_b";
inline constexpr const char* kSubjectA = "alice";
inline constexpr const char* kSubjectB = "bob";
inline constexpr const char* kSubjectHashed = "carol";

/// Every secret the tokens file holds, for checking logs never contain one.
inline std::vector<std::string> all_tokens() {
    return {kTokenARw, kTokenARo, kTokenAWo, kTokenBRw, kTokenAHashed};
}

inline std::string tokens_file_json() {
    std::ostringstream out;
    out << R"([
  {"token": ")"
        << kTokenARw
        << R"(", "organizationId": "org_a", "subject": "alice", "scopes": ["runs:read", "runs:write"]},
  {"token": ")"
        << kTokenARo
        << R"(", "organizationId": "org_a", "subject": "alice-reader", "scopes": ["runs:read"]},
  {"token": ")"
        << kTokenAWo
        << R"(", "organizationId": "org_a", "subject": "alice-writer", "scopes": ["runs:write"]},
  {"token": ")"
        << kTokenBRw
        << R"(", "organizationId": "org_b", "subject": "bob", "scopes": ["runs:read", "runs:write"]},
  {"tokenSha256": ")"
        << kTokenAHashedSha256
        << R"(", "organizationId": "org_a", "subject": "carol", "scopes": ["runs:read", "runs:write"]}
])";
    return out.str();
}

/// The forkrun executable under test, from $FORKRUN_BIN.
inline std::string forkrun_bin() {
    const char* bin = std::getenv("FORKRUN_BIN");
    if (bin == nullptr || *bin == '\0') {
        throw std::runtime_error("FORKRUN_BIN is not set (ctest sets it to the built forkrun)");
    }
    return bin;
}

/// A private temporary directory, removed with everything in it.
class TempDir {
  public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern =
            std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/forkrun-http-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed for " + pattern);
        }
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// How a child process ended.
struct ExitStatus {
    bool exited = false;  // exited normally (then `code` holds its status)
    int code = -1;
    int signal = 0;          // the signal that killed it, if any
    bool timed_out = false;  // had to be SIGKILLed after the deadline
    std::chrono::milliseconds elapsed{0};

    bool clean() const { return exited && code == 0 && !timed_out; }
    std::string describe() const {
        std::ostringstream out;
        if (timed_out) {
            out << "did not exit within the deadline (killed); ";
        }
        if (exited) {
            out << "exited with status " << code;
        } else {
            out << "killed by signal " << signal;
        }
        out << " after " << elapsed.count() << " ms";
        return out.str();
    }
};

/// Waits for `pid` until `deadline`; nullopt if it is still running then.
inline std::optional<ExitStatus> wait_for_exit(pid_t pid,
                                               std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            ExitStatus result;
            result.exited = WIFEXITED(status);
            result.code = result.exited ? WEXITSTATUS(status) : -1;
            result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
            return result;
        }
        if (r < 0) {
            return ExitStatus{};
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        // Polling a condition against a deadline; a child exit has no portable fd to wait on.
        std::this_thread::sleep_for(5ms);
    }
}

/// Like spawn(), but the child runs with RLIMIT_NOFILE set to `fd_limit` (soft and hard), set
/// between fork and exec (posix_spawn cannot). Only async-signal-safe calls follow the fork.
inline pid_t spawn_with_fd_limit(const std::vector<std::string>& argv,
                                 int out_fd,
                                 int err_fd,
                                 rlim_t fd_limit) {
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const rlimit limit{fd_limit, fd_limit};
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
    }
    if (pid == 0) {
        const int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 ||
            ::dup2(err_fd, 2) < 0 || ::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
            ::_exit(127);
        }
        ::execve(args[0], args.data(), environ);
        ::_exit(127);
    }
    return pid;
}

/// Spawns `argv` with stdout to `out_fd` and stderr to `err_fd`; throws on failure.
inline pid_t spawn(const std::vector<std::string>& argv, int out_fd, int err_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("posix_spawn " + argv[0] + " failed: " + std::strerror(rc));
    }
    return pid;
}

/// Output of a short-lived forkrun command.
struct CommandResult {
    ExitStatus status;
    std::string out;
    std::string err;
};

/// Runs `$FORKRUN_BIN args...` to completion (killed after `timeout`).
inline CommandResult run_forkrun(const std::vector<std::string>& args,
                                 std::chrono::milliseconds timeout = 10s) {
    TempDir dir;
    const auto out_path = dir.path() / "stdout";
    const auto err_path = dir.path() / "stderr";
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::vector<std::string> argv{forkrun_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto start = std::chrono::steady_clock::now();
    pid_t pid = -1;
    try {
        pid = spawn(argv, out_fd, err_fd);
    } catch (...) {
        ::close(out_fd);
        ::close(err_fd);
        throw;
    }
    ::close(out_fd);
    ::close(err_fd);
    CommandResult result;
    auto status = wait_for_exit(pid, start + timeout);
    if (!status) {
        ::kill(pid, SIGKILL);
        status = wait_for_exit(pid, std::chrono::steady_clock::now() + 10s);
        status->timed_out = true;
    }
    result.status = *status;
    result.status.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    result.out = read_file(out_path);
    result.err = read_file(err_path);
    return result;
}

struct ServerOptions {
    /// Pass `--tokens FILE` with the fixture's tokens; false runs the server in dev-token mode.
    bool with_tokens = true;
    /// Further `forkrun serve` arguments, e.g. {"--read-timeout-ms", "300"}.
    std::vector<std::string> extra_args;
    /// `--spawn-ahead N` when set. 0 by default: the tests of other features count a server's
    /// anvils exactly, and a fork started ahead is one more (a chain's own spawnAhead in the
    /// config file still wins); the spawn-ahead tests ask for it.
    std::optional<std::size_t> spawn_ahead = 0;
    std::chrono::milliseconds startup_timeout{20000};
    /// When set, the server runs with this RLIMIT_NOFILE (soft and hard).
    std::optional<rlim_t> fd_limit;
};

/// RAII `forkrun serve --listen 127.0.0.1:0` child: started by the constructor (which throws if no
/// URL line appears in time), SIGTERMed and reaped by `stop()` or the destructor.
class ServerProcess {
  public:
    explicit ServerProcess(ServerOptions options = {}) {
        std::vector<std::string> argv{forkrun_bin(), "serve", "--listen", "127.0.0.1:0"};
        if (options.with_tokens) {
            const auto tokens_path = dir_.path() / "tokens.json";
            std::ofstream(tokens_path) << tokens_file_json();
            argv.push_back("--tokens");
            argv.push_back(tokens_path.string());
        }
        if (options.spawn_ahead) {
            argv.push_back("--spawn-ahead");
            argv.push_back(std::to_string(*options.spawn_ahead));
        }
        argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());

        stderr_path_ = dir_.path() / "stderr.log";
        const int err_fd =
            ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (err_fd < 0) {
            throw std::runtime_error("cannot create " + stderr_path_.string());
        }
        int out_pipe[2];
        if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
            ::close(err_fd);
            throw std::runtime_error("pipe2 failed");
        }
        try {
            pid_ = options.fd_limit
                       ? spawn_with_fd_limit(argv, out_pipe[1], err_fd, *options.fd_limit)
                       : spawn(argv, out_pipe[1], err_fd);
        } catch (...) {
            ::close(out_pipe[0]);
            ::close(out_pipe[1]);
            ::close(err_fd);
            throw;
        }
        ::close(out_pipe[1]);
        ::close(err_fd);
        stdout_fd_ = out_pipe[0];
        reader_ = std::thread([this] { drain_stdout(); });

        const std::regex url(R"(http://[0-9.]+:[0-9]+)");
        auto match =
            wait_for_stdout(url, std::chrono::steady_clock::now() + options.startup_timeout);
        if (!match) {
            const std::string out = stdout_text();
            const std::string err = stderr_text();
            shutdown(SIGKILL);
            throw std::runtime_error("forkrun serve printed no URL within " +
                                     std::to_string(options.startup_timeout.count()) +
                                     " ms; stdout:\n" + out + "\nstderr:\n" + err);
        }
        base_url_ = match->at(0);
    }

    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    ~ServerProcess() { shutdown(SIGTERM); }

    /// e.g. "http://127.0.0.1:41234".
    const std::string& base_url() const { return base_url_; }
    std::uint16_t port() const {
        return static_cast<std::uint16_t>(std::stoi(base_url_.substr(base_url_.rfind(':') + 1)));
    }
    pid_t pid() const { return pid_; }

    std::string stdout_text() const {
        std::lock_guard lock(mutex_);
        return stdout_;
    }
    /// Everything the server has logged so far.
    std::string stderr_text() const { return read_file(stderr_path_); }

    /// Waits until stdout matches `pattern`; the match and its groups, or nullopt at the
    /// deadline or when stdout closed without a match.
    std::optional<std::vector<std::string>> wait_for_stdout(
        const std::regex& pattern,
        std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        changed_.wait_until(lock, deadline,
                            [&] { return std::regex_search(stdout_, pattern) || stdout_closed_; });
        std::smatch m;
        if (!std::regex_search(stdout_, m, pattern)) {
            return std::nullopt;
        }
        std::vector<std::string> groups;
        for (const auto& group : m) {
            groups.push_back(group.str());
        }
        return groups;
    }

    /// Sends `sig` and reaps the process, SIGKILLing it after `deadline`. Idempotent: later calls
    /// return the first result.
    ExitStatus stop(int sig = SIGTERM, std::chrono::milliseconds deadline = 10s) {
        if (exit_status_) {
            return *exit_status_;
        }
        const auto start = std::chrono::steady_clock::now();
        ::kill(pid_, sig);
        auto status = wait_for_exit(pid_, start + deadline);
        if (!status) {
            ::kill(pid_, SIGKILL);
            status = wait_for_exit(pid_, std::chrono::steady_clock::now() + 10s);
            status->timed_out = true;
        }
        status->elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        exit_status_ = status;
        stop_reader_ = true;
        return *exit_status_;
    }

    /// Whether the process has exited on its own (reaping it if so).
    bool exited() {
        if (exit_status_) {
            return true;
        }
        auto status = wait_for_exit(pid_, std::chrono::steady_clock::now());
        if (status) {
            exit_status_ = status;
        }
        return status.has_value();
    }

  private:
    void shutdown(int sig) {
        stop(sig, 10s);
        if (reader_.joinable()) {
            reader_.join();
        }
        if (stdout_fd_ >= 0) {
            ::close(stdout_fd_);
            stdout_fd_ = -1;
        }
    }

    void drain_stdout() {
        char buffer[4096];
        while (!stop_reader_) {
            pollfd p{stdout_fd_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) {
                continue;
            }
            const ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
            std::lock_guard lock(mutex_);
            if (n <= 0) {
                stdout_closed_ = true;
                changed_.notify_all();
                return;
            }
            stdout_.append(buffer, static_cast<size_t>(n));
            changed_.notify_all();
        }
    }

    TempDir dir_;
    std::filesystem::path stderr_path_;
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    std::string base_url_;
    std::optional<ExitStatus> exit_status_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string stdout_;
    bool stdout_closed_ = false;
    std::atomic<bool> stop_reader_ = false;
    std::thread reader_;
};

}  // namespace forkrun::http::test
