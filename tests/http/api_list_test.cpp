// GET /v1/runs: order, filters, limits, views and cursor pagination under concurrent creation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/api_fixture.hpp"

namespace forkrun::http::test {
namespace {

class ApiListTest : public ApiSharedServerTest {
  protected:
    struct Page {
        long status = 0;
        std::vector<std::string> ids;
        std::optional<std::string> next_cursor;
        std::string body;
    };

    /// GET /v1/runs<query>; checks the page's shape and each item's.
    Page list(const std::string& query,
              RunView view = RunView::kListItem,
              std::string token = kTokenARw) const {
        HttpResponse r = api().get("/v1/runs" + query, token);
        Page page{r.status, {}, std::nullopt, r.body};
        if (r.status != 200) {
            return page;
        }
        const json::object& data = data_of(r);
        const auto* runs = data.if_contains("runs");
        const auto* cursor = data.if_contains("nextCursor");
        EXPECT_TRUE(runs != nullptr && runs->is_array()) << r.body;
        EXPECT_TRUE(cursor != nullptr && (cursor->is_null() || cursor->is_string())) << r.body;
        if (runs == nullptr || !runs->is_array()) {
            return page;
        }
        for (const auto& item : runs->get_array()) {
            EXPECT_TRUE(is_run(item, view));
            page.ids.push_back(item.is_object() ? str_at(item.get_object(), "id") : "");
        }
        if (cursor != nullptr && cursor->is_string()) {
            page.next_cursor = std::string(cursor->get_string());
        }
        return page;
    }

    std::string create_id(const json::object& body, std::string token = kTokenARw) const {
        return str_at(api().create_ok(body, std::move(token)), "id");
    }
};

std::vector<std::string> reversed(std::vector<std::string> v) {
    std::reverse(v.begin(), v.end());
    return v;
}

std::set<std::string> as_set(const std::vector<std::string>& v) {
    return {v.begin(), v.end()};
}

TEST_F(ApiListTest, NewestFirstAndItemsOmitDefinitionAndState) {
    const std::string workflow_id = unique_workflow_id("order");
    std::vector<std::string> created;
    for (int i = 0; i < 4; ++i) {
        created.push_back(create_id(quick_run(workflow_id)));
    }
    const Page page = list("?workflowId=" + workflow_id);
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.ids, reversed(created));
    EXPECT_FALSE(page.next_cursor) << "all runs fit on one page";
}

TEST_F(ApiListTest, ViewFullIncludesDefinitionAndState) {
    const std::string workflow_id = unique_workflow_id("full");
    const std::string id = create_id(quick_run(workflow_id));
    const Page page = list("?workflowId=" + workflow_id + "&view=full", RunView::kFull);
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.ids, std::vector<std::string>{id});
}

TEST_F(ApiListTest, FiltersByStatusList) {
    const std::string workflow_id = unique_workflow_id("status");
    const std::string ok = create_id(quick_run(workflow_id));
    const std::string failed = create_id(run_request(
        workflow_id, json::object{{"root", root({"a"})}, {"a", assert_node("1", "equals", "2")}}));
    const std::string waiting = create_id(wait_run(workflow_id, 30));
    EXPECT_EQ(str_at(api().wait_terminal(ok), "status"), "success");
    EXPECT_EQ(str_at(api().wait_terminal(failed), "status"), "failure");

    const std::string q = "?workflowId=" + workflow_id + "&status=";
    EXPECT_EQ(list(q + "success").ids, std::vector<std::string>{ok});
    EXPECT_EQ(list(q + "failure").ids, std::vector<std::string>{failed});
    EXPECT_EQ(list(q + "success,failure").ids, (std::vector<std::string>{failed, ok}));
    EXPECT_EQ(list(q + "waiting,running").ids, std::vector<std::string>{waiting});
    EXPECT_TRUE(list(q + "cancelled").ids.empty());

    ASSERT_EQ(api().cancel(waiting).status, 200);
    EXPECT_EQ(list(q + "cancelled").ids, std::vector<std::string>{waiting});
    EXPECT_TRUE(list(q + "waiting,running").ids.empty());
    EXPECT_EQ(as_set(list(q + "cancelled,success,failure").ids),
              (std::set<std::string>{ok, failed, waiting}));
}

TEST_F(ApiListTest, FiltersByWorkflowIdAndFlags) {
    const std::string workflow_id = unique_workflow_id("flags");
    const std::string other_workflow = unique_workflow_id("flags");
    json::object dust_body = quick_run(workflow_id);
    dust_body["isDustTest"] = true;
    const std::string dust = create_id(dust_body);
    const std::string plain = create_id(quick_run(workflow_id));
    const std::string other = create_id(quick_run(other_workflow));

    const std::string q = "?workflowId=" + workflow_id;
    EXPECT_EQ(list(q).ids, (std::vector<std::string>{plain, dust}));
    EXPECT_EQ(list("?workflowId=" + other_workflow).ids, std::vector<std::string>{other});
    EXPECT_EQ(list(q + "&isDustTest=true").ids, std::vector<std::string>{dust});
    EXPECT_EQ(list(q + "&isDustTest=false").ids, std::vector<std::string>{plain});
    EXPECT_EQ(list(q + "&isSimulation=false").ids, (std::vector<std::string>{plain, dust}));
    EXPECT_TRUE(list(q + "&isSimulation=true").ids.empty());
    EXPECT_EQ(list(q + "&isSimulation=false&isDustTest=true&status=success,waiting,running").ids,
              std::vector<std::string>{dust});
}

TEST_F(ApiListTest, LimitOutsideOneTo200Is400) {
    for (const std::string limit : {"0", "201", "-1", "abc", "1.5"}) {
        const Page page = list("?limit=" + limit);
        EXPECT_EQ(page.status, 400) << "limit=" << limit << ": " << page.body;
    }
    for (const std::string limit : {"1", "200"}) {
        const Page page = list("?limit=" + limit);
        EXPECT_EQ(page.status, 200) << "limit=" << limit << ": " << page.body;
        EXPECT_LE(page.ids.size(), static_cast<std::size_t>(std::stoi(limit)));
    }
}

TEST_F(ApiListTest, DefaultPageHoldsFiftyRuns) {
    const std::string workflow_id = unique_workflow_id("default");
    std::vector<std::string> created;
    for (int i = 0; i < 51; ++i) {
        created.push_back(create_id(run_request(workflow_id, json::object{{"root", root()}})));
    }
    const Page first = list("?workflowId=" + workflow_id);
    ASSERT_EQ(first.status, 200) << first.body;
    ASSERT_EQ(first.ids.size(), 50u);
    ASSERT_TRUE(first.next_cursor) << "a second page exists";
    const Page second =
        list("?workflowId=" + workflow_id + "&cursor=" + url_encode(*first.next_cursor));
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_EQ(second.ids, std::vector<std::string>{created.front()});
    EXPECT_FALSE(second.next_cursor);
}

TEST_F(ApiListTest, CursorNeitherSkipsNorRepeatsWhileRunsAreCreated) {
    const std::string workflow_id = unique_workflow_id("cursor");
    std::vector<std::string> existing;
    for (int i = 0; i < 12; ++i) {
        existing.push_back(create_id(quick_run(workflow_id)));
    }

    // Two writers keep adding runs of the same workflow (and of another) while we page; each page
    // is fetched only after another run was created, so creation and paging interleave.
    std::mutex mutex;
    std::condition_variable created;
    int created_meanwhile = 0;
    std::atomic<bool> paging_done = false;
    auto writer = [&](std::string wf) {
        for (int i = 0; i < 200 && !paging_done; ++i) {
            if (api().create(quick_run(wf)).status == 201) {
                std::lock_guard lock(mutex);
                ++created_meanwhile;
                created.notify_all();
            }
        }
    };
    auto wait_for_more = [&](int than) {
        std::unique_lock lock(mutex);
        created.wait_until(lock, std::chrono::steady_clock::now() + 5s,
                           [&] { return created_meanwhile > than; });
        return created_meanwhile;
    };
    std::thread same(writer, workflow_id);
    std::thread other(writer, unique_workflow_id("cursor_other"));

    std::vector<std::string> seen;
    std::optional<std::string> cursor;
    int pages = 0;
    int last_count = 0;
    do {
        last_count = wait_for_more(last_count);
        const Page page = list("?workflowId=" + workflow_id + "&limit=3" +
                               (cursor ? "&cursor=" + url_encode(*cursor) : std::string{}));
        if (page.status != 200) {
            ADD_FAILURE() << page.body;
            break;
        }
        EXPECT_LE(page.ids.size(), 3u);
        seen.insert(seen.end(), page.ids.begin(), page.ids.end());
        cursor = page.next_cursor;
        ++pages;
    } while (cursor && pages < 100);
    paging_done = true;
    same.join();
    other.join();

    EXPECT_GE(created_meanwhile, pages) << "the writers created nothing during paging";
    EXPECT_LT(pages, 100) << "pagination did not end";
    EXPECT_EQ(as_set(seen).size(), seen.size()) << "a run was listed twice";
    // Every run that existed before paging began is listed, newest first.
    std::vector<std::string> old_seen;
    std::copy_if(seen.begin(), seen.end(), std::back_inserter(old_seen),
                 [&](const std::string& id) {
                     return std::find(existing.begin(), existing.end(), id) != existing.end();
                 });
    EXPECT_EQ(old_seen, reversed(existing));
}

TEST_F(ApiListTest, CursorsMoveWithTheOrganizationsOwnRunsOnly) {
    const std::string workflow_id = unique_workflow_id("orgcursor");
    std::vector<std::string> mine;
    for (int i = 0; i < 5; ++i) {
        mine.push_back(create_id(quick_run(workflow_id)));
    }
    const std::string query = "?workflowId=" + workflow_id + "&limit=2";
    const Page first = list(query);
    ASSERT_EQ(first.status, 200) << first.body;
    ASSERT_TRUE(first.next_cursor);

    // Another organization creates runs, of the same workflow id too, between A's pages.
    const std::string theirs_wf = unique_workflow_id("orgcursor_b");
    for (int i = 0; i < 20; ++i) {
        create_id(quick_run(i % 2 == 0 ? workflow_id : theirs_wf), kTokenBRw);
    }
    const Page again = list(query);
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.ids, first.ids);
    EXPECT_EQ(again.next_cursor, first.next_cursor) << "A's cursor moved with B's creates";

    std::vector<std::string> seen = first.ids;
    std::optional<std::string> cursor = first.next_cursor;
    while (cursor) {
        const Page page = list(query + "&cursor=" + url_encode(*cursor));
        ASSERT_EQ(page.status, 200) << page.body;
        seen.insert(seen.end(), page.ids.begin(), page.ids.end());
        cursor = page.next_cursor;
        ASSERT_LE(seen.size(), mine.size()) << "paging repeats or lists B's runs";
        // B keeps creating while A pages; A's cursors are unaffected.
        create_id(quick_run(workflow_id), kTokenBRw);
    }
    EXPECT_EQ(seen, reversed(mine));
}

TEST_F(ApiListTest, AnotherOrganizationsCursorOrGarbageIs400) {
    const std::string workflow_id = unique_workflow_id("badcursor");
    for (int i = 0; i < 3; ++i) {
        create_id(quick_run(workflow_id), kTokenBRw);
        create_id(quick_run(workflow_id));
    }
    const std::string query = "?workflowId=" + workflow_id + "&limit=1";
    const Page theirs = list(query, RunView::kListItem, kTokenBRw);
    ASSERT_EQ(theirs.status, 200) << theirs.body;
    ASSERT_TRUE(theirs.next_cursor);
    const Page own = list(query);
    ASSERT_EQ(own.status, 200) << own.body;
    ASSERT_TRUE(own.next_cursor);
    std::string tampered = *own.next_cursor;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';

    for (const std::string& bad :
         {*theirs.next_cursor, tampered, std::string("cur_1"), std::string("cur_"),
          std::string("garbage"), *own.next_cursor + "A",
          std::string("cur_") + std::string(32, '!')}) {
        HttpResponse r = api().get("/v1/runs" + query + "&cursor=" + url_encode(bad));
        EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
        EXPECT_TRUE(has_error_at(errors_of(r), "/query/cursor")) << r.body;
    }
    // The owner's cursor still works, for its owner only.
    EXPECT_EQ(list(query + "&cursor=" + url_encode(*own.next_cursor)).status, 200);
    EXPECT_EQ(
        list(query + "&cursor=" + url_encode(*theirs.next_cursor), RunView::kListItem, kTokenBRw)
            .status,
        200);
}

TEST_F(ApiListTest, ListingIsScopedToTheOrganization) {
    const std::string workflow_id = unique_workflow_id("scoped");
    const std::string mine = create_id(quick_run(workflow_id), kTokenBRw);
    HttpResponse r = api().get("/v1/runs?workflowId=" + workflow_id, kTokenBRw);
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(mine), std::string::npos);
    HttpResponse theirs = api().get("/v1/runs?workflowId=" + workflow_id, kTokenARw);
    ASSERT_EQ(theirs.status, 200);
    EXPECT_EQ(theirs.body.find(mine), std::string::npos);
}

}  // namespace
}  // namespace forkrun::http::test
