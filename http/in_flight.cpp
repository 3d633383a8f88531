// The count of requests being answered, and waiters woken when it falls to zero.
#include "http/in_flight.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace forkrun::http {

namespace asio = boost::asio;

InFlight::Request::Request(std::shared_ptr<InFlight> counter) : counter_(std::move(counter)) {
    counter_->count_.fetch_add(1);
}

InFlight::Request::~Request() {
    counter_->done();
}

void InFlight::done() {
    if (count_.fetch_sub(1) != 1 || !watched_.load()) {
        return;
    }
    std::lock_guard lock(mu_);
    for (auto& t : waiters_) {
        asio::post(t->get_executor(),
                   [t] { t->expires_at(asio::steady_timer::time_point::min()); });
    }
    waiters_.clear();
}

asio::awaitable<bool> InFlight::wait_idle(std::chrono::steady_clock::time_point deadline) {
    watched_ = true;
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
    while (count_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
        timer->expires_at(deadline);
        {
            std::lock_guard lock(mu_);
            waiters_.push_back(timer);
        }
        // Registered before this look: the last request either finds the timer, or finished
        // before it was registered and the count reads zero here.
        if (count_.load() == 0) {
            break;
        }
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    {
        std::lock_guard lock(mu_);
        std::erase(waiters_, timer);
    }
    co_return count_.load() == 0;
}

}  // namespace forkrun::http
