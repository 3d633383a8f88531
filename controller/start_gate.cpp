// The start backlog as a thread-safe Asio channel of `capacity` tokens: sending takes a place
// (waiting when the buffer is full), receiving gives one back and admits the oldest waiter.
#include "controller/start_gate.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <tuple>
#include <utility>

namespace forkrun::controller {

namespace asio = boost::asio;

struct StartSlot::State {
    State(asio::any_io_executor ex, std::size_t capacity) : channel(std::move(ex), capacity) {}
    asio::experimental::concurrent_channel<void(boost::system::error_code)> channel;
    std::atomic<std::size_t> held{0};
    std::atomic<bool> closed{false};
};

StartSlot::StartSlot(std::shared_ptr<State> state) : state_(std::move(state)) {}

StartSlot::StartSlot(StartSlot&& other) noexcept : state_(std::move(other.state_)) {}

StartSlot& StartSlot::operator=(StartSlot&& other) noexcept {
    if (this != &other) {
        release();
        state_ = std::move(other.state_);
    }
    return *this;
}

StartSlot::~StartSlot() {
    release();
}

void StartSlot::release() {
    if (!state_) {
        return;
    }
    auto state = std::move(state_);
    state->held.fetch_sub(1, std::memory_order_relaxed);
    state->channel.try_receive([](boost::system::error_code) {});
}

StartGate::StartGate(asio::any_io_executor ex, std::size_t capacity)
    : state_(std::make_shared<StartSlot::State>(std::move(ex), capacity == 0 ? 1 : capacity)) {}

StartGate::~StartGate() {
    close();
}

asio::awaitable<StartSlot> StartGate::acquire() {
    auto state = state_;
    if (state->closed.load()) {
        co_return StartSlot{};
    }
    const boost::system::error_code token;
    auto sent = co_await state->channel.async_send(token, asio::as_tuple(asio::use_awaitable));
    if (std::get<0>(sent)) {
        co_return StartSlot{};
    }
    state->held.fetch_add(1, std::memory_order_relaxed);
    StartSlot slot(state);
    if (state->closed.load()) {
        co_return StartSlot{};  // closed while this send went through: `slot` gives it back
    }
    co_return slot;
}

void StartGate::close() {
    // Not channel.close(): it leaves blocked senders blocked. Cancel the waiting senders, then
    // empty the buffer, so a sender that got in between completes, sees `closed` and gives its
    // place back.
    state_->closed.store(true);
    state_->channel.cancel();
    while (state_->channel.try_receive([](boost::system::error_code) {})) {
    }
}

std::size_t StartGate::held() const {
    return state_->held.load(std::memory_order_relaxed);
}

}  // namespace forkrun::controller
