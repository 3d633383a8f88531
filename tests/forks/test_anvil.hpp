// Test-only launcher of a real anvil on a free loopback port (the production launcher is
// forks/anvil_process.*). Reads the port from anvil's "Listening on" line.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace forkrun::forks::test {

/// The children of this process, zombies included: what a test compares before and after to see
/// that no process was left (or started).
/// True once `pid` has ended and been reaped (a zombie is not gone).
inline bool process_gone(pid_t pid) {
    return ::kill(pid, 0) == -1 && errno == ESRCH &&
           !std::filesystem::exists("/proc/" + std::to_string(pid));
}

inline std::set<pid_t> child_pids() {
    std::set<pid_t> pids;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream in(task.path() / "children");
        pid_t pid = 0;
        while (in >> pid) {
            pids.insert(pid);
        }
    }
    return pids;
}

/// The anvil binary: $FORKRUN_ANVIL (set by ctest), else the pinned npm copy.
inline std::string anvil_binary() {
    if (const char* env = std::getenv("FORKRUN_ANVIL"); env != nullptr && *env != '\0') {
        return env;
    }
    return FORKRUN_SOURCE_DIR "/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
}

/// One anvil process; SIGTERM and reaped on destruction.
class TestAnvil {
  public:
    explicit TestAnvil(std::optional<std::uint64_t> chain_id = std::nullopt,
                       std::chrono::milliseconds startup = std::chrono::seconds(30)) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            throw std::runtime_error("pipe2 failed");
        }
        std::vector<std::string> args = {anvil_binary(), "--host", "127.0.0.1", "--port", "0"};
        if (chain_id) {
            args.insert(args.end(), {"--chain-id", std::to_string(*chain_id)});
        }
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(fds[1]);
        if (rc != 0) {
            close(fds[0]);
            throw std::runtime_error("cannot start anvil at " + args[0]);
        }
        out_ = fds[0];
        read_port(std::chrono::steady_clock::now() + startup);
        // Keep draining stdout so anvil never blocks on a full pipe.
        drain_ = std::thread([fd = out_] {
            char buf[4096];
            while (read(fd, buf, sizeof buf) > 0) {
            }
        });
    }

    ~TestAnvil() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status = 0;
            waitpid(pid_, &status, 0);
        }
        if (drain_.joinable()) {
            drain_.join();
        }
        if (out_ >= 0) {
            close(out_);
        }
    }

    TestAnvil(const TestAnvil&) = delete;
    TestAnvil& operator=(const TestAnvil&) = delete;

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    void read_port(std::chrono::steady_clock::time_point deadline) {
        static constexpr std::string_view kMarker = "Listening on 127.0.0.1:";
        std::string seen;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{out_, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(std::max<long>(left.count(), 1))) <= 0) {
                continue;
            }
            char buf[4096];
            const ssize_t n = read(out_, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            seen.append(buf, static_cast<std::size_t>(n));
            if (auto at = seen.find(kMarker); at != std::string::npos) {
                const auto end = seen.find('\n', at);
                if (end != std::string::npos) {
                    port_ = std::stoi(seen.substr(at + kMarker.size(), end - at - kMarker.size()));
                    return;
                }
            }
        }
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
        close(out_);
        out_ = -1;
        throw std::runtime_error("anvil did not report its port; output: " + seen);
    }

    pid_t pid_ = -1;
    int out_ = -1;
    int port_ = 0;
    std::thread drain_;
};

}  // namespace forkrun::forks::test
