// A pool lease's place in the queue (executionState.forks[...].queuePosition) against real anvil:
// shown while it waits, moved up as the runs ahead get their fork, gone once it has one.
#include "http/api_fixture.hpp"
#include "http/sim_helpers.hpp"

namespace forkrun::http::test {
namespace {

// The queuePosition of the run's only fork: -1 when null.
int queue_position(const json::object& run) {
    const auto forks = value_at(run, "/executionState/forks").as_object();
    if (forks.size() != 1) {
        return -2;
    }
    const auto& q = forks.begin()->value().at("queuePosition");
    return q.is_null() ? -1 : q.to_number<int>();
}

TEST(SimQueue, AWaitingLeaseShowsItsPlaceUntilItHasAFork) {
    TempDir dir;
    auto server = start_server_with_config(
        json::object{{"chains", json::object{{"31337", json::object{{"poolSize", 1}}}}},
                     {"leaseTimeoutMs", 60000}},
        dir);
    Api api(server->base_url());
    auto holding = [] {
        return sim_request("pool", {31337},
                           json::object{{"root", root({"w"})}, {"w", wait_node(60)}});
    };
    // The pool's one fork goes to the first run; the next two wait, in order.
    const auto first = str_at(api.create_ok(holding()), "id");
    wait_forks_ready(api, first, 1);
    EXPECT_EQ(queue_position(data_of(api.run(first))), -1);
    const auto second = str_at(api.create_ok(holding()), "id");
    auto run = api.poll_run(second, [](const json::object& r) { return queue_position(r) == 1; });
    EXPECT_EQ(str_at(run, "status"), "waiting");
    const auto third = str_at(api.create_ok(holding()), "id");
    api.poll_run(third, [](const json::object& r) { return queue_position(r) == 2; });

    // The first run ends: the second gets the fork, the third moves up.
    ASSERT_EQ(api.cancel(first).status, 200);
    run = wait_forks_ready(api, second, 1);
    EXPECT_EQ(queue_position(run), -1) << json::serialize(run);
    api.poll_run(third, [](const json::object& r) { return queue_position(r) == 1; });

    ASSERT_EQ(api.cancel(second).status, 200);
    wait_forks_ready(api, third, 1);
    const auto cancelled = data_of(api.cancel(third));
    EXPECT_EQ(queue_position(cancelled), -1);
}

}  // namespace
}  // namespace forkrun::http::test
