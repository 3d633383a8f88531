// One anvil child seen from its owner: the error category, stop() (SIGTERM, SIGKILL after the
// grace, reaped through the pidfd on Asio), wait_exit(), kill_now() and the accessors.
#include "forks/anvil_process_internal.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/throw_exception.hpp>

#include <cerrno>
#include <utility>

namespace forkrun::forks {
namespace {

namespace asio = boost::asio;

constexpr std::chrono::milliseconds kKillWait{5000};

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
            case AnvilErrc::kNotReaped:
                return "anvil did not exit after SIGKILL";
        }
        return "unknown anvil error";
    }
};

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

namespace detail {

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
    std::string signal_failure;

    if (state->exited()) {
        result.already_exited = true;
    } else {
        bool exited = false;
        if (grace.count() > 0) {
            if (pidfd_send_signal(state->pidfd_raw, SIGTERM) != 0 && errno != ESRCH) {
                signal_failure = "SIGTERM failed: " + errno_text(errno) + "; ";
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
        result.status = state->describe_exit();
        state->release();
    } else {
        result.code = AnvilErrc::kNotReaped;
        result.message = signal_failure + "anvil (pid " + std::to_string(state->pid) +
                         ") did not exit within " + std::to_string(kKillWait.count()) +
                         " ms of SIGKILL";
        result.status = state->describe_exit();
    }
    result.took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    state->stop_result = result;
    state->stop_done.cancel();
    co_return result;
}

}  // namespace detail

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
