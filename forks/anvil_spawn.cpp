// Bringing one anvil up: a place under the spawn cap, the launch, its stdout read until
// "Listening on", and on any failure a child stopped and reaped on the executor, never blocking.
#include "forks/anvil_process_internal.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cctype>
#include <charconv>
#include <string_view>
#include <utility>

namespace forkrun::forks {

namespace detail {

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

}  // namespace detail

namespace {

namespace asio = boost::asio;

constexpr std::size_t kStartupStdoutLimit = 64 * 1024;
constexpr std::chrono::milliseconds kEarlyExitWait{2000};
constexpr std::chrono::milliseconds kStderrEofWait{1000};
/// SIGTERM to SIGKILL for the child of a cancelled spawn: it is not serving anyone yet.
constexpr std::chrono::milliseconds kCancelGrace{500};
/// No SIGTERM first: a child that failed to start is killed at once.
constexpr std::chrono::milliseconds kNoGrace{0};
constexpr std::string_view kListeningPrefix = "Listening on ";

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

/// Waits (bounded) for stderr to reach end of file, so an error message has anvil's last words.
asio::awaitable<void> wait_stderr_eof(std::shared_ptr<State> state, Clock::time_point deadline) {
    if (state->err_eof) {
        co_return;
    }
    state->err_eof_event.expires_at(deadline);
    co_await state->err_eof_event.async_wait(kUseAwaitable);
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

    util::Permit permit;
    if (options.spawn_limiter) {
        if (!cancelled()) {
            permit = co_await options.spawn_limiter->acquire(options.spawn_priority);
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

}  // namespace forkrun::forks
