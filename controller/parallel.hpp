// Coroutines run side by side on one executor, their results gathered in order.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <vector>

namespace forkrun::controller {

// Runs make(i) for every i in `indexes` concurrently on `ex`; the results in the same order.
template <class Make>
auto all_in_parallel(const boost::asio::any_io_executor& ex,
                     const std::vector<std::size_t>& indexes,
                     Make make)
    -> boost::asio::awaitable<std::vector<typename decltype(make(std::size_t{}))::value_type>> {
    using Result = typename decltype(make(std::size_t{}))::value_type;
    using Op = decltype(boost::asio::co_spawn(ex, make(std::size_t{}), boost::asio::deferred));
    std::vector<Op> ops;
    for (auto i : indexes) {
        ops.push_back(boost::asio::co_spawn(ex, make(i), boost::asio::deferred));
    }
    if (ops.empty()) {
        co_return std::vector<Result>{};
    }
    auto [order, errors, results] =
        co_await boost::asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(boost::asio::experimental::wait_for_all(), boost::asio::use_awaitable);
    (void)order;
    (void)errors;
    co_return std::move(results);
}

}  // namespace forkrun::controller
