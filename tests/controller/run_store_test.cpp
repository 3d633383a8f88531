// The store's promises: terminal states are set once, listing is newest first and stable.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <boost/json/serialize.hpp>

#include "controller/run_store.hpp"

namespace forkrun::controller {
namespace {

Run make_run(std::string id, std::string org = "org_a") {
    Run r;
    r.id = std::move(id);
    r.organization_id = std::move(org);
    r.workflow_id = "wf";
    r.status = RunStatus::kRunning;
    return r;
}

TEST(RunStore, CancelRacingCompletionHasExactlyOneWinnerThatIsNeverOverwritten) {
    RunStore store;
    for (int round = 0; round < 2000; ++round) {
        auto rec = store.insert(make_run("run_" + std::to_string(round)));
        std::atomic<int> go{0};
        bool cancel_won = false;
        bool complete_won = false;
        std::thread canceller([&] {
            while (go.load() == 0) {
            }
            cancel_won = rec->finish(RunStatus::kCancelled, [](::forkrun::controller::Run& r) {
                r.cancellation = Cancellation{"alice", Clock::now(), "race", Clock::now(), {}};
            });
        });
        std::thread completer([&] {
            while (go.load() == 0) {
            }
            complete_won = rec->finish(RunStatus::kSuccess,
                                       [](::forkrun::controller::Run& r) { r.error.reset(); });
        });
        go = 1;
        canceller.join();
        completer.join();
        ASSERT_NE(cancel_won, complete_won) << "round " << round;
        const auto final_status = rec->status();
        EXPECT_EQ(final_status, cancel_won ? RunStatus::kCancelled : RunStatus::kSuccess);
        // Nothing changes a terminal run afterwards.
        EXPECT_FALSE(
            rec->update([](::forkrun::controller::Run& r) { r.status = RunStatus::kRunning; }));
        EXPECT_FALSE(rec->finish(RunStatus::kFailure, [](::forkrun::controller::Run&) {}));
        EXPECT_EQ(rec->status(), final_status);
        EXPECT_EQ(rec->snapshot().cancellation.has_value(), cancel_won);
    }
}

TEST(RunStore, PastItsRetentionTheOldestFinishedRunsAreDroppedAndRunningOnesKept) {
    RunStore store(3);
    auto keep = store.insert(make_run("run_0"));  // still running: never dropped
    std::vector<std::shared_ptr<RunRecord>> done;
    for (int i = 1; i <= 4; ++i) {
        auto rec = store.insert(make_run("run_" + std::to_string(i)));
        rec->finish(RunStatus::kSuccess, [](::forkrun::controller::Run&) {});
        done.push_back(rec);
    }
    // Inserting run_5 puts the store over 3: the oldest finished runs go, run_0 stays.
    store.insert(make_run("run_5"));
    EXPECT_EQ(store.size(), 3u);
    EXPECT_NE(store.find("run_0"), nullptr);
    EXPECT_EQ(store.find("run_1"), nullptr);
    EXPECT_EQ(store.find("run_2"), nullptr);
    EXPECT_EQ(store.find("run_3"), nullptr);
    EXPECT_NE(store.find("run_4"), nullptr);
    EXPECT_NE(store.find("run_5"), nullptr);
    // Lists no longer show them either; a record someone still holds stays readable.
    const auto page = store.list("org_a", ListQuery{});
    ASSERT_EQ(page.runs.size(), 3u);
    EXPECT_EQ(page.runs[0]->id(), "run_5");
    EXPECT_EQ(page.runs[2]->id(), "run_0");
    EXPECT_EQ(done[0]->status(), RunStatus::kSuccess);
}

TEST(RunStore, RunsInProgressAreKeptEvenOverTheRetention) {
    RunStore store(2);
    for (int i = 0; i < 5; ++i) {
        store.insert(make_run("run_" + std::to_string(i)));
    }
    EXPECT_EQ(store.size(), 5u);
}

TEST(RunStore, AFailedRunWhoseForksAreKeptIsKeptUntilTheyAreReleased) {
    RunStore store(1);
    auto kept = store.insert(make_run("run_kept"));
    kept->finish(RunStatus::kFailure, [](::forkrun::controller::Run& r) {
        ForkInfo f;
        f.fork_id = "fork_1";
        f.state = ForkState::kKept;
        r.forks.push_back(f);
    });
    store.insert(make_run("run_1"));
    EXPECT_NE(store.find("run_kept"), nullptr) << "its rpcUrl still serves";
    EXPECT_TRUE(kept->update_forks(
        [](::forkrun::controller::Run& r) { r.forks[0].state = ForkState::kReleased; }));
    EXPECT_EQ(kept->status(), RunStatus::kFailure);
    store.insert(make_run("run_2"));
    EXPECT_EQ(store.find("run_kept"), nullptr);
}

TEST(RunStore, ACompactedRunKeepsItsJsonAndWhatReRunsNeed) {
    RunStore store;
    auto run = make_run("run_c");
    run.workflow_definition["nodes"] = boost::json::object{{"root", boost::json::object{}}};
    run.prop_values["n"] = 5;
    run.nodes.resize(3);
    auto rec = store.insert(std::move(run));
    auto full = [](const ::forkrun::controller::Run& r) {
        return std::string("{\"workflowDefinition\":") +
               boost::json::serialize(r.workflow_definition) +
               ",\"propValues\":" + boost::json::serialize(r.prop_values) +
               ",\"nodes\":" + std::to_string(r.nodes.size()) + "}";
    };
    auto summary = [](const ::forkrun::controller::Run& r) { return r.id; };
    rec->compact(full, summary);  // not terminal yet: nothing happens
    EXPECT_EQ(rec->snapshot().nodes.size(), 3u);
    rec->finish(RunStatus::kSuccess, [](::forkrun::controller::Run&) {});
    rec->compact(full, summary);
    // The views were made from the whole run, before it was stripped.
    EXPECT_EQ(*rec->serialized(RunView::kFull, full),
              R"({"workflowDefinition":{"nodes":{"root":{}}},"propValues":{"n":5},"nodes":3})");
    EXPECT_EQ(*rec->serialized(RunView::kSummary, summary), "run_c");
    const auto copy = rec->snapshot();
    EXPECT_TRUE(copy.nodes.empty());
    EXPECT_EQ(
        copy.workflow_definition,
        (boost::json::object{{"nodes", boost::json::object{{"root", boost::json::object{}}}}}));
    EXPECT_EQ(copy.prop_values, (boost::json::object{{"n", 5}}));
    EXPECT_EQ(copy.status, RunStatus::kSuccess);
}

TEST(RunStore, ACompactedRunsSummaryIsMadeAgainFromItsFullJson) {
    RunStore store;
    auto rec = store.insert(make_run("run_s"));
    // The summary is the full text less the members only the full view has.
    auto full = [](const ::forkrun::controller::Run&) {
        return std::string(
            R"({"id":"run_s","workflowDefinition":{"nodes":{"id":"run_s"}},)"
            R"("propValues":{"id":1},"status":"success","executionState":{"a":[]}})");
    };
    auto summary = [](const ::forkrun::controller::Run&) {
        return std::string(R"({"id":"run_s","propValues":{"id":1},"status":"success"})");
    };
    rec->finish(RunStatus::kSuccess, [](::forkrun::controller::Run&) {});
    rec->compact(full, summary);
    auto never = [](const ::forkrun::controller::Run&) {
        ADD_FAILURE() << "a compacted run is not serialized again";
        return std::string();
    };
    EXPECT_EQ(*rec->serialized(RunView::kSummary, never), summary(rec->snapshot()));
    EXPECT_EQ(*rec->serialized(RunView::kFull, never), full(rec->snapshot()));
}

TEST(RunStore, UpdateCannotSetATerminalStatus) {
    RunStore store;
    auto rec = store.insert(make_run("run_x"));
    EXPECT_TRUE(rec->update([](::forkrun::controller::Run& r) { r.status = RunStatus::kSuccess; }));
    EXPECT_EQ(rec->status(), RunStatus::kRunning);
}

TEST(RunStore, OtherOrganizationsRunIsNotFound) {
    RunStore store;
    store.insert(make_run("run_1", "org_a"));
    EXPECT_NE(store.find("org_a", "run_1"), nullptr);
    EXPECT_EQ(store.find("org_b", "run_1"), nullptr);
    EXPECT_EQ(store.find("org_a", "run_2"), nullptr);
}

TEST(RunStore, ListsNewestFirstAndPagesWithoutSkipsOrRepeatsWhileRunsAreCreated) {
    RunStore store;
    for (int i = 0; i < 25; ++i) {
        store.insert(make_run("run_" + std::to_string(i)));
    }
    store.insert(make_run("run_other", "org_b"));
    std::vector<std::string> seen;
    ListQuery q;
    q.limit = 10;
    int created = 100;
    for (;;) {
        auto page = store.list("org_a", q);
        for (auto& r : page.runs) {
            seen.push_back(r->id());
        }
        // New runs arrive between pages; they are newer than the cursor and never show up.
        store.insert(make_run("run_" + std::to_string(created++)));
        if (!page.next_before_seq) {
            break;
        }
        q.before_seq = page.next_before_seq;
    }
    ASSERT_EQ(seen.size(), 25u);
    for (int i = 0; i < 25; ++i) {
        EXPECT_EQ(seen[static_cast<std::size_t>(i)], "run_" + std::to_string(24 - i));
    }
}

TEST(RunStore, CursorPositionsCountOnlyTheOrganizationsOwnRuns) {
    RunStore store;
    for (int i = 0; i < 5; ++i) {
        store.insert(make_run("run_a" + std::to_string(i), "org_a"));
    }
    ListQuery q;
    q.limit = 2;
    const auto before = store.list("org_a", q).next_before_seq;
    ASSERT_TRUE(before);
    // Another organization's creates move nothing that org_a sees.
    for (int i = 0; i < 50; ++i) {
        store.insert(make_run("run_b" + std::to_string(i), "org_b"));
    }
    EXPECT_EQ(store.list("org_a", q).next_before_seq, before);
    EXPECT_EQ(store.insert(make_run("run_a5", "org_a"))->org_seq(), 6u);
    EXPECT_EQ(store.find("run_b49")->org_seq(), 50u);
}

TEST(RunStore, ListFiltersByStatusWorkflowAndFlags) {
    RunStore store;
    auto a = store.insert(make_run("run_a"));
    auto b = store.insert(make_run("run_b"));
    b->update([](::forkrun::controller::Run& r) { r.is_simulation = true; });
    a->finish(RunStatus::kFailure, [](::forkrun::controller::Run&) {});
    ListQuery q;
    q.statuses = {RunStatus::kFailure, RunStatus::kCancelled};
    auto page = store.list("org_a", q);
    ASSERT_EQ(page.runs.size(), 1u);
    EXPECT_EQ(page.runs[0]->id(), "run_a");
    q = {};
    q.is_simulation = true;
    page = store.list("org_a", q);
    ASSERT_EQ(page.runs.size(), 1u);
    EXPECT_EQ(page.runs[0]->id(), "run_b");
    q = {};
    q.workflow_id = "other";
    EXPECT_TRUE(store.list("org_a", q).runs.empty());
}

TEST(RunStore, SerializedFormIsCachedUntilTheRunChanges) {
    RunStore store;
    auto rec = store.insert(make_run("run_c"));
    int calls = 0;
    auto ser = [&](const ::forkrun::controller::Run& r) {
        ++calls;
        return std::string(to_string(r.status));
    };
    auto first = rec->serialized(RunView::kFull, ser);
    auto second = rec->serialized(RunView::kFull, ser);
    EXPECT_EQ(first, second);
    EXPECT_EQ(calls, 1);
    rec->finish(RunStatus::kSuccess, [](::forkrun::controller::Run&) {});
    EXPECT_EQ(*rec->serialized(RunView::kFull, ser), "success");
    EXPECT_EQ(calls, 2);
}

TEST(RunStore, RestoredRunsKeepTheirNumbersAndNewOnesContinueAfterThem) {
    RunStore store;
    auto finished = make_run("run_old");
    finished.status = RunStatus::kSuccess;
    store.restore(finished, 7, R"({"id":"run_old","full":true})", R"({"id":"run_old"})");
    store.note_org_seq("org_a", 9);  // a run the store holds but did not load
    store.note_org_seq("org_b", 4);
    const auto rec = store.find("org_a", "run_old");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->org_seq(), 7u);
    EXPECT_EQ(rec->status(), RunStatus::kSuccess);
    EXPECT_EQ(*rec->serialized(RunView::kFull,
                               [](const ::forkrun::controller::Run&) { return std::string("x"); }),
              R"({"id":"run_old","full":true})");
    EXPECT_EQ(store.insert(make_run("run_new"))->org_seq(), 10u);
    EXPECT_EQ(store.insert(make_run("run_b", "org_b"))->org_seq(), 5u);

    // make() numbers a run without storing it; add() stores it; an abandoned number is skipped.
    const auto made = store.make(make_run("run_made"));
    EXPECT_EQ(made->org_seq(), 11u);
    EXPECT_FALSE(store.find("run_made"));
    store.make(make_run("run_dropped"));
    store.add(made);
    EXPECT_TRUE(store.find("run_made"));
    EXPECT_EQ(store.insert(make_run("run_last"))->org_seq(), 13u);
    const auto page = store.list("org_a", ListQuery{});
    ASSERT_EQ(page.runs.size(), 4u);
    EXPECT_EQ(page.runs[0]->id(), "run_last");
    EXPECT_EQ(page.runs[1]->id(), "run_made");
    EXPECT_EQ(page.runs[3]->id(), "run_old");
}

}  // namespace
}  // namespace forkrun::controller
