// The event bus: ids without gaps, bounded history, snapshot on a gap, byte caps, cross-thread
// wakeups, and the events a run's changes make.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <thread>

#include "controller/event_stream.hpp"
#include "controller/run_events.hpp"
#include "controller/run_record.hpp"
#include "util/timestamp.hpp"

namespace forkrun::controller {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

Event make_event(std::string type, std::string data = "{}") {
    Event e;
    e.type = std::move(type);
    e.data = std::move(data);
    return e;
}

// Pulls once on `ioc` (run here until the pull completes).
Pulled pull(asio::io_context& ioc,
            const std::shared_ptr<Subscription>& sub,
            std::chrono::milliseconds within = 0ms) {
    auto f =
        asio::co_spawn(ioc, sub->pull(std::chrono::steady_clock::now() + within), asio::use_future);
    ioc.restart();
    ioc.run();
    return f.get();
}

std::vector<std::uint64_t> ids(const Pulled& p) {
    std::vector<std::uint64_t> out;
    for (const auto& e : p.events) {
        out.push_back(e->id);
    }
    return out;
}

EventPtr snapshot_at(std::uint64_t latest) {
    Event e = make_event("snapshot", "{\"state\":1}");
    e.id = latest;
    return std::make_shared<const Event>(std::move(e));
}

TEST(EventStream, IdsCountFromOneAndReplayFromAnId) {
    asio::io_context ioc;
    EventStream s;
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(s.publish(make_event("run")), static_cast<std::uint64_t>(i + 1));
    }
    auto all = s.subscribe(SubscribeFrom{0}, ioc.get_executor());
    EXPECT_EQ(ids(pull(ioc, all)), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
    auto after3 = s.subscribe(SubscribeFrom{3}, ioc.get_executor());
    EXPECT_EQ(ids(pull(ioc, after3)), (std::vector<std::uint64_t>{4, 5}));
    auto live = s.subscribe(SubscribeFrom{}, ioc.get_executor());
    EXPECT_TRUE(pull(ioc, live).events.empty());
    s.publish(make_event("run"));
    EXPECT_EQ(ids(pull(ioc, live)), (std::vector<std::uint64_t>{6}));
    EXPECT_EQ(ids(pull(ioc, after3)), (std::vector<std::uint64_t>{6}));
}

TEST(EventStream, HistoryIsBoundedAndAGapGetsASnapshotThenWhatFollows) {
    asio::io_context ioc;
    EventStream s(5);
    for (int i = 0; i < 12; ++i) {
        s.publish(make_event("node"));
    }
    EXPECT_EQ(s.oldest(), 8u);
    EXPECT_EQ(s.latest(), 12u);
    // 8..12 are held: no snapshot.
    auto held = s.subscribe(SubscribeFrom{7}, ioc.get_executor(), {}, snapshot_at);
    EXPECT_EQ(ids(pull(ioc, held)), (std::vector<std::uint64_t>{8, 9, 10, 11, 12}));
    // 3..7 are gone: the snapshot (at the latest id), then only new events.
    for (auto from : {std::uint64_t{0}, std::uint64_t{2}, std::uint64_t{99}}) {
        auto gap = s.subscribe(SubscribeFrom{from}, ioc.get_executor(), {}, snapshot_at);
        auto first = pull(ioc, gap);
        ASSERT_EQ(first.events.size(), 1u) << from;
        EXPECT_EQ(first.events[0]->type, "snapshot");
        EXPECT_EQ(first.events[0]->id, 12u);
    }
    auto gap = s.subscribe(SubscribeFrom{2}, ioc.get_executor(), {}, snapshot_at);
    pull(ioc, gap);
    s.publish(make_event("end"));
    s.end();
    EXPECT_EQ(ids(pull(ioc, gap)), (std::vector<std::uint64_t>{13}));
    EXPECT_TRUE(pull(ioc, gap).over);
    // An ended stream resumed across a gap: the snapshot, then the end, then nothing.
    auto late = s.subscribe(SubscribeFrom{1}, ioc.get_executor(), {}, snapshot_at);
    auto p = pull(ioc, late);
    ASSERT_EQ(p.events.size(), 2u);
    EXPECT_EQ(p.events[0]->type, "snapshot");
    EXPECT_EQ(p.events[1]->type, "end");
    EXPECT_TRUE(pull(ioc, late).over);
    // Packed once the run is compacted: the same answers, from the deflated history.
    s.pack();
    EXPECT_EQ(s.oldest(), 9u);
    auto packed_gap = s.subscribe(SubscribeFrom{1}, ioc.get_executor(), {}, snapshot_at);
    const auto q = pull(ioc, packed_gap);
    ASSERT_EQ(q.events.size(), 2u);
    EXPECT_EQ(q.events[0]->type, "snapshot");
    EXPECT_EQ(q.events[1]->type, "end");
    auto packed_held = s.subscribe(SubscribeFrom{9}, ioc.get_executor(), {}, snapshot_at);
    const auto r = pull(ioc, packed_held);
    EXPECT_EQ(ids(r), (std::vector<std::uint64_t>{10, 11, 12, 13}));
    EXPECT_EQ(r.events.back()->type, "end");
    EXPECT_TRUE(pull(ioc, packed_held).over);
}

TEST(EventStream, ASubscriberPastItsByteCapIsCutOffAndHoldsNothing) {
    asio::io_context ioc;
    EventStream s(1000, 4096);
    auto sub = s.subscribe(SubscribeFrom{}, ioc.get_executor());
    auto reader = s.subscribe(SubscribeFrom{}, ioc.get_executor());
    const std::string big(1000, 'x');
    for (int i = 0; i < 3; ++i) {
        s.publish(make_event("node", big));
    }
    EXPECT_EQ(pull(ioc, reader).events.size(), 3u);  // the one that reads keeps up
    for (int i = 0; i < 3; ++i) {
        s.publish(make_event("node", big));
        EXPECT_EQ(pull(ioc, reader).events.size(), 1u);
    }
    const auto p = pull(ioc, sub);
    EXPECT_TRUE(p.cut_off);
    EXPECT_TRUE(p.events.empty());
    // Replayed history is shared with the stream: it costs a new subscriber nothing.
    auto replay = s.subscribe(SubscribeFrom{0}, ioc.get_executor());
    EXPECT_EQ(pull(ioc, replay).events.size(), 6u);
}

TEST(EventStream, APublisherOnAnotherThreadWakesTheSubscriber) {
    asio::io_context ioc;
    EventStream s;
    auto sub = s.subscribe(SubscribeFrom{}, ioc.get_executor());
    auto f =
        asio::co_spawn(ioc, sub->pull(std::chrono::steady_clock::now() + 10s), asio::use_future);
    std::thread consumer([&] { ioc.run(); });
    std::thread publisher([&] { s.publish(make_event("run")); });
    publisher.join();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(f.get().events.size(), 1u);
    consumer.join();
}

TEST(EventStream, AFilterPicksEvents) {
    asio::io_context ioc;
    EventStream s;
    auto sims = s.subscribe(SubscribeFrom{0}, ioc.get_executor(),
                            [](const Event& e) { return e.is_simulation; });
    Event a = make_event("run");
    a.is_simulation = true;
    s.publish(a);
    s.publish(make_event("run"));
    EXPECT_EQ(ids(pull(ioc, sims)), (std::vector<std::uint64_t>{1}));
}

Run two_node_run() {
    Run r;
    r.id = "run_x";
    r.organization_id = "org_a";
    r.workflow_id = "wf";
    r.nodes.push_back(NodeState{"root", NodeStatus::kPending, {}, {}, 0, {}, {}});
    r.nodes.push_back(NodeState{"a", NodeStatus::kPending, {}, {}, 0, {}, {}});
    return r;
}

std::vector<std::string> types(const Pulled& p) {
    std::vector<std::string> out;
    for (const auto& e : p.events) {
        out.push_back(e->type);
    }
    return out;
}

TEST(RunEvents, EachChangeOfARunIsOneEventInOrderAndTheEndIsLast) {
    asio::io_context ioc;
    EventBus bus(ioc.get_executor());
    auto org = bus.organization("org_a");
    auto org_sub = org->subscribe(SubscribeFrom{}, ioc.get_executor());
    RunRecord rec(two_node_run(), 1);
    rec.attach_events(bus.open(two_node_run()));
    rec.update([](::forkrun::controller::Run& r) {
        r.status = RunStatus::kRunning;
        r.nodes[0].status = NodeStatus::kRunning;
    });
    rec.update([](::forkrun::controller::Run& r) { r.nodes[0].status = NodeStatus::kSuccess; });
    rec.update([](::forkrun::controller::Run&) {});  // no change, no event
    rec.finish(RunStatus::kCancelled, [](::forkrun::controller::Run& r) {
        r.nodes[1].status = NodeStatus::kCancelled;
        r.cancellation = Cancellation{"alice", Clock::now(), std::nullopt, Clock::now(), {}};
    });
    auto sub =
        rec.subscribe_events(SubscribeFrom{0}, ioc.get_executor(),
                             [](const ::forkrun::controller::Run&) { return std::string("{}"); });
    const auto p = pull(ioc, sub);
    EXPECT_EQ(types(p), (std::vector<std::string>{"run", "node", "run", "node", "node",
                                                  "cancellation", "run", "end"}));
    EXPECT_EQ(ids(p), (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
    const auto first = json::parse(p.events[0]->data).as_object();
    EXPECT_TRUE(first.at("previousStatus").is_null());
    EXPECT_EQ(first.at("status"), "waiting");
    EXPECT_EQ(json::parse(p.events[5]->data).at("requestedBy"), "alice");
    const auto end = json::parse(p.events[7]->data).as_object();
    EXPECT_EQ(end.at("status"), "cancelled");
    EXPECT_TRUE(end.at("finishedAt").is_string());
    EXPECT_TRUE(pull(ioc, sub).over);
    // The organization sees the run's `run` and `end` events only, with its own ids.
    const auto o = pull(ioc, org_sub);
    EXPECT_EQ(types(o), (std::vector<std::string>{"run", "run", "run", "end"}));
    EXPECT_EQ(ids(o), (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST(RunEvents, GatewayCuIsSentAtMostTenTimesASecondAndTheLatestValueArrives) {
    asio::io_context ioc;
    EventBus bus(ioc.get_executor());
    RunRecord rec(two_node_run(), 1);
    rec.attach_events(bus.open(two_node_run()));
    auto sub =
        rec.subscribe_events(SubscribeFrom{}, ioc.get_executor(),
                             [](const ::forkrun::controller::Run&) { return std::string("{}"); });
    for (int i = 0; i < 50; ++i) {
        rec.update([](::forkrun::controller::Run& r) { r.nodes[1].cu += 10; });
    }
    // One now, the latest within the interval (the bus's timer), nothing for the rest.
    std::vector<std::uint64_t> sent;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline && (sent.empty() || sent.back() != 500)) {
        auto p = pull(ioc, sub, 1000ms);
        for (const auto& e : p.events) {
            EXPECT_EQ(e->type, "cu");
            sent.push_back(json::parse(e->data).at("totalCu").to_number<std::uint64_t>());
        }
    }
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(sent[0], 10u);
    EXPECT_EQ(sent[1], 500u);
}

// Each event's data is the JSON of its fields, key for key and byte for byte what Boost.JSON
// writes for the same object, also where a node id, an error or a URL holds characters that
// must be escaped (they come from a workflow definition or a failure's text).
TEST(RunEvents, EventDataIsTheSerializedObjectOfItsFieldsWithEscapesKept) {
    asio::io_context ioc;
    EventBus bus(ioc.get_executor());
    ::forkrun::controller::Run run = two_node_run();
    const std::string odd = "n\"1\\\n\x01\x1f caf\xc3\xa9 /</";
    run.nodes[1].id = odd;
    ForkInfo fork;
    fork.fork_id = "fork_1";
    fork.chain_id = 18446744073709551615u;
    run.forks.push_back(fork);
    RunRecord rec(run, 1);
    rec.attach_events(bus.open(run));
    const auto kept = Clock::now();
    rec.update([&](::forkrun::controller::Run& r) {
        r.status = RunStatus::kRunning;
        r.nodes[1].status = NodeStatus::kFailure;
        r.nodes[1].cu = 7;
        r.nodes[1].error = ErrorInfo{RunErrc::kInternalError, "said \"no\"\tthen\r\n\x7f"};
        r.forks[0].state = ForkState::kReady;
        r.forks[0].rpc_url = "http://127.0.0.1:8545/rpc/\"x\"";
        r.forks[0].error = "upstream \"gone\"";
        r.forks[0].queue_position = 4294967295u;
        r.forks[0].kept_until = kept;
    });
    rec.finish(RunStatus::kFailure,
               [](::forkrun::controller::Run& r) { r.finished_at = Clock::now(); });
    auto sub =
        rec.subscribe_events(SubscribeFrom{0}, ioc.get_executor(),
                             [](const ::forkrun::controller::Run&) { return std::string("{}"); });
    const auto p = pull(ioc, sub);
    ASSERT_EQ(types(p), (std::vector<std::string>{"run", "node", "fork", "run", "run", "end"}));
    auto same = [&](std::size_t i, const json::object& want) {
        EXPECT_EQ(p.events[i]->data, json::serialize(want)) << p.events[i]->type;
    };
    const auto at = [&](std::size_t i) { return json::parse(p.events[i]->data).at("at"); };
    same(0, {{"runId", "run_x"},
             {"status", "waiting"},
             {"previousStatus", nullptr},
             {"totalCu", 0},
             {"at", at(0)}});
    same(1, {{"runId", "run_x"},
             {"nodeId", odd},
             {"status", "failure"},
             {"cu", 7},
             {"error", {{"code", "internal_error"}, {"message", "said \"no\"\tthen\r\n\x7f"}}},
             {"at", at(1)}});
    same(2, {{"runId", "run_x"},
             {"forkId", "fork_1"},
             {"chainId", 18446744073709551615u},
             {"state", "ready"},
             {"rpcUrl", "http://127.0.0.1:8545/rpc/\"x\""},
             {"error", "upstream \"gone\""},
             {"queuePosition", 4294967295u},
             {"keptUntil", util::format_timestamp(kept)},
             {"at", at(2)}});
    same(3, {{"runId", "run_x"},
             {"status", "running"},
             {"previousStatus", "waiting"},
             {"totalCu", 7},
             {"at", at(3)}});
    const auto end = json::parse(p.events[5]->data);
    same(5, {{"runId", "run_x"},
             {"status", "failure"},
             {"totalCu", 7},
             {"finishedAt", end.at("finishedAt")}});
}

}  // namespace
}  // namespace forkrun::controller
