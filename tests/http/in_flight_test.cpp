// The count of requests being answered and the drain's wait on it: woken by the last request's
// end, not by a poll, and false when the deadline comes first.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "http/in_flight.hpp"

namespace forkrun::http {
namespace {

// Starts a wait_idle on `ioc` with `deadline`; its answer lands in the returned slot.
std::shared_ptr<std::optional<bool>> start_in_flight_wait(
    boost::asio::io_context& ioc,
    const std::shared_ptr<InFlight>& counter,
    std::chrono::steady_clock::time_point deadline) {
    auto result = std::make_shared<std::optional<bool>>();
    boost::asio::co_spawn(ioc, counter->wait_idle(deadline),
                          [result](std::exception_ptr, bool idle) { *result = idle; });
    return result;
}

TEST(InFlight, RequestsAreCountedWhileTheirGuardLives) {
    auto counter = std::make_shared<InFlight>();
    EXPECT_EQ(counter->count(), 0u);
    {
        const InFlight::Request a(counter);
        const InFlight::Request b(counter);
        EXPECT_EQ(counter->count(), 2u);
    }
    EXPECT_EQ(counter->count(), 0u);
}

TEST(InFlight, WaitingWithNothingInFlightAnswersAtOnce) {
    boost::asio::io_context ioc;
    auto counter = std::make_shared<InFlight>();
    auto idle = start_in_flight_wait(ioc, counter,
                                     std::chrono::steady_clock::now() + std::chrono::hours(1));
    ioc.run();
    ASSERT_TRUE(*idle);
    EXPECT_TRUE(**idle);
}

TEST(InFlight, TheLastRequestsEndWakesTheWaitLongBeforeItsDeadline) {
    boost::asio::io_context ioc;
    auto counter = std::make_shared<InFlight>();
    auto first = std::make_unique<InFlight::Request>(counter);
    auto second = std::make_unique<InFlight::Request>(counter);
    // An hour's deadline: the wait can only end this test by being woken.
    auto idle = start_in_flight_wait(ioc, counter,
                                     std::chrono::steady_clock::now() + std::chrono::hours(1));
    ioc.poll();
    EXPECT_FALSE(*idle) << "two requests are still being answered";
    first.reset();
    ioc.poll();
    EXPECT_FALSE(*idle) << "one request is still being answered";
    boost::asio::post(ioc, [&] { second.reset(); });
    ioc.run();
    ASSERT_TRUE(*idle);
    EXPECT_TRUE(**idle);
}

TEST(InFlight, ADeadlineAlreadyPastAnswersFalseWhileARequestIsAnswered) {
    boost::asio::io_context ioc;
    auto counter = std::make_shared<InFlight>();
    const InFlight::Request busy(counter);
    auto idle = start_in_flight_wait(ioc, counter, std::chrono::steady_clock::now());
    ioc.run();
    ASSERT_TRUE(*idle);
    EXPECT_FALSE(**idle);
}

}  // namespace
}  // namespace forkrun::http
