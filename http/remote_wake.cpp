// Wakes of coroutines waiting on another member's run (remote_wake.hpp).
#include "http/remote_wake.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace forkrun::http {

namespace asio = boost::asio;

std::function<void()> waker(asio::any_io_executor ex, const std::shared_ptr<Wake>& wake) {
    return [ex, w = std::weak_ptr<Wake>(wake)] {
        asio::post(ex, [w] {
            if (auto s = w.lock()) {
                s->fired = true;
                s->timer->cancel();
            }
        });
    };
}

asio::awaitable<void> wait_a_while(Wake& wake,
                                   std::chrono::milliseconds poll,
                                   std::chrono::steady_clock::time_point deadline) {
    if (!wake.fired) {
        wake.timer->expires_at(std::min(deadline, std::chrono::steady_clock::now() + poll));
        boost::system::error_code ec;
        co_await wake.timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    wake.fired = false;
}

}  // namespace forkrun::http
