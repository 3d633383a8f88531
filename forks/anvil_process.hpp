// One anvil child process: spawned without a shell, awaited on Asio through a pidfd, and always
// stopped and reaped (no orphan, no zombie, no leftover private HOME).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "util/limiter.hpp"

namespace forkrun::forks {

/// Why an anvil process could not be started (or, kNotReaped, stopped).
enum class AnvilErrc {
    kSpawnFailed = 1,  ///< Bad options, or fork/exec failed (e.g. no such binary).
    kExitedEarly,      ///< The process exited before printing its listening address.
    kStartTimeout,     ///< No listening address within start_timeout; the child was killed.
    kBadOutput,        ///< stdout did not carry a usable `Listening on HOST:PORT` line.
    kCancelled,  ///< The awaiting coroutine was cancelled (the child, if any, was stopped), or
                 ///< the spawn limiter was closed before it was this spawn's turn.
    kNotReaped,  ///< stop(): the process did not exit after SIGKILL and could not be reaped.
};

/// The category of AnvilErrc ("forkrun.anvil").
const std::error_category& anvil_category() noexcept;

std::error_code make_error_code(AnvilErrc e) noexcept;

/// A failed spawn. `message` is a complete sentence for a user, with the exit status and the tail
/// of anvil's stderr when there is one, e.g. "anvil exited with status 1 before it was ready:
/// Error: failed to get fork block number ...".
struct AnvilError {
    AnvilErrc code = AnvilErrc::kSpawnFailed;
    std::string message;

    std::error_code error_code() const noexcept { return make_error_code(code); }
};

/// Lets `boost::system::result<T, AnvilError>::value()` throw a std::system_error carrying the
/// message.
[[noreturn]] void throw_exception_from_error(const AnvilError& e,
                                             const boost::source_location& loc);

/// How to start one anvil.
struct AnvilOptions {
    std::string anvil_path;               ///< The anvil binary, executed directly (no PATH lookup).
    std::uint64_t chain_id = 0;           ///< 0: anvil's default (or the forked chain's id).
    std::optional<std::string> fork_url;  ///< Fork this JSON-RPC endpoint.
    std::optional<std::uint64_t> fork_block;  ///< Fork at this block; needs fork_url.
    /// HOME for the child. Empty: a private directory under the temp dir that the process
    /// creates and removes once the child is reaped. A given directory is created if missing and
    /// never removed.
    std::string home_dir;
    std::vector<std::string> extra_args;  ///< Appended after the arguments derived from above.
    /// Fork/exec to `Listening on`; the wait for a place in `spawn_limiter` is not counted.
    std::chrono::milliseconds start_timeout{10000};
    /// Caps the spawns in progress: spawn() waits for a place here before fork/exec and holds it
    /// until the child listens or is gone. Null: no cap.
    std::shared_ptr<util::Limiter> spawn_limiter;
    /// kBackground for a fork started ahead of any run (forks/spawn_ahead): it waits behind
    /// every spawn a run waits for.
    util::Limiter::Priority spawn_priority = util::Limiter::Priority::kNow;
};

/// The outcome of AnvilProcess::stop().
struct StopResult {
    bool killed = false;          ///< SIGTERM was not enough within the grace; SIGKILL was sent.
    bool already_exited = false;  ///< It had died before stop() (e.g. killed externally).
    std::chrono::microseconds took{0};  ///< From the call to the reap.
    std::string status;                 ///< E.g. "exited with status 0", "was killed by SIGKILL".
    std::error_code code;               ///< AnvilErrc::kNotReaped, or none: gone and reaped.
    std::string message;                ///< Why not, naming the pid; empty when ok().

    bool ok() const noexcept { return !code; }
};

/// A running anvil listening on 127.0.0.1, owned by exactly one executor.
///
/// Thread-safety: an instance and every coroutine awaiting its members belong to the executor
/// that ran spawn() (use a strand when the io_context has several threads). Accessors are cheap
/// and only read. The destructor (and kill_now()) must run on that executor too, or while it is
/// not running, and before the io_context is destroyed.
///
/// The child gets PR_SET_PDEATHSIG(SIGKILL), so it dies with the thread that spawned it: spawn
/// from a thread that lives as long as the process (an io_context thread), not a short-lived one.
class AnvilProcess {
  public:
    using SpawnResult = boost::system::result<std::unique_ptr<AnvilProcess>, AnvilError>;

    /// Starts anvil with `--port 0 --host 127.0.0.1` and completes once it prints its listening
    /// address, or with an error after it exits, times out (then it is killed), or the awaiting
    /// coroutine is cancelled (then it is sent SIGTERM, and SIGKILL after a short grace). A child
    /// that will not be a fork is reaped before this completes. A spawn cancelled while it waits
    /// for its turn in `spawn_limiter` leaves the queue at once and starts no process. Never
    /// blocks the thread.
    static boost::asio::awaitable<SpawnResult> spawn(AnvilOptions options);

    /// Kills and reaps the child if still there (see kill_now()).
    ~AnvilProcess();

    AnvilProcess(const AnvilProcess&) = delete;
    AnvilProcess& operator=(const AnvilProcess&) = delete;

    pid_t pid() const noexcept;
    std::uint16_t port() const noexcept;
    /// "http://127.0.0.1:PORT".
    const std::string& url() const noexcept;
    /// The child's HOME (the private directory, or AnvilOptions::home_dir).
    const std::string& home_dir() const noexcept;
    /// False once the child has exited, even if nobody has reaped it yet.
    bool running() const noexcept;
    /// The last few KB anvil wrote to stderr.
    std::string stderr_tail() const;

    /// SIGTERM, up to `grace` for the exit, then SIGKILL; reaps the child and removes the private
    /// HOME. Idempotent: later and concurrent calls complete with the first call's result. Once
    /// started it runs to completion even if the awaiting coroutine is cancelled.
    boost::asio::awaitable<StopResult> stop(
        std::chrono::milliseconds grace = std::chrono::milliseconds{2000});

    /// Completes when the child exits, for whatever reason, with its shell-style status (the exit
    /// code, or 128 + signal number), and reaps it. Completes with operation_aborted if the
    /// awaiting coroutine is cancelled first. Any number of waiters may wait at once.
    boost::asio::awaitable<boost::system::result<int>> wait_exit();

    /// SIGKILL and a blocking reap (immediate), then removes the private HOME. For synchronous
    /// emergency paths; safe to call more than once.
    void kill_now() noexcept;

    struct State;  ///< Opaque; defined in the .cpp so that drains and waits can share it.

  private:
    explicit AnvilProcess(std::shared_ptr<State> state);

    std::shared_ptr<State> state_;
};

}  // namespace forkrun::forks

template <>
struct std::is_error_code_enum<forkrun::forks::AnvilErrc> : std::true_type {};
