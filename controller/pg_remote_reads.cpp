// PgRemote's reads for lists and event streams on every member: a page of an organization's
// runs on the list's indexes (organization, filter, org_seq), and a run's stored events after an
// id, each one statement on a reader's connection.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>

#include "controller/durable_store.hpp"
#include "controller/pg_connection.hpp"
#include "controller/pg_remote.hpp"

namespace forkrun::controller {

namespace asio = boost::asio;

namespace {

// Calls `done` on its own executor with what `rows` make.
template <class Done, class Item, class Make>
auto answer_rows(std::shared_ptr<Done> done, Make make) {
    return [done, make](boost::system::error_code ec, PgRemote::Rows rows) {
        std::vector<Item> items;
        if (!ec) {
            items.reserve(rows.size());
            for (auto& row : rows) {
                items.push_back(make(row));
            }
        }
        auto ex = asio::get_associated_executor(*done);
        asio::dispatch(ex, [done, ec, items = std::move(items)]() mutable {
            std::move (*done)(ec, std::move(items));
        });
    };
}

// A stored run's full JSON as a list item: without workflowDefinition and executionState.
std::string summary_of(std::string full) {
    boost::system::error_code ec;
    auto v = boost::json::parse(full, ec);
    if (ec || !v.is_object()) {
        return full;
    }
    v.get_object().erase("workflowDefinition");
    v.get_object().erase("executionState");
    return boost::json::serialize(v);
}

}  // namespace

void PgRemote::list(RemoteListQuery q, ListDone done) {
    // The text depends only on which filters are present (the values, the statuses and the
    // limit are parameters), so the readers prepare a few texts, whatever callers ask.
    std::vector<std::string> params{q.organization_id};
    auto param = [&](std::string v) {
        params.push_back(std::move(v));
        return "$" + std::to_string(params.size());
    };
    std::string sql = "SELECT id, org_seq, run_json FROM runs WHERE organization_id = $1";
    if (!q.statuses.empty()) {
        sql += " AND status = ANY (" + param(pg_text_array(q.statuses)) + "::text[])";
    }
    if (q.workflow_id) {
        sql += " AND workflow_id = " + param(*q.workflow_id);
    }
    if (q.is_simulation) {
        sql += " AND is_simulation = " + param(*q.is_simulation ? "t" : "f") + "::boolean";
    }
    if (q.is_dust_test) {
        sql += " AND is_dust_test = " + param(*q.is_dust_test ? "t" : "f") + "::boolean";
    }
    if (q.before_seq) {
        sql += " AND org_seq < " + param(std::to_string(*q.before_seq)) + "::bigint";
    }
    sql += " ORDER BY org_seq DESC LIMIT " + param(std::to_string(q.limit)) + "::bigint";
    query(std::move(sql), std::move(params),
          QueryDone(answer_rows<ListDone, RemoteListed>(
              std::make_shared<ListDone>(std::move(done)),
              [summaries = q.summaries](std::vector<std::string>& row) {
                  // Here, on the reader's thread, not on the HTTP thread that merges the page.
                  return RemoteListed{
                      std::move(row[0]), std::strtoull(row[1].c_str(), nullptr, 10),
                      summaries ? summary_of(std::move(row[2])) : std::move(row[2])};
              })));
}

void PgRemote::read_events(std::string run_id,
                           std::uint64_t after,
                           std::size_t limit,
                           EventsDone done) {
    query(
        "SELECT seq, type, data FROM run_events WHERE run_id = $1 AND seq > $2::bigint ORDER BY "
        "seq LIMIT $3::bigint",
        {std::move(run_id), std::to_string(after), std::to_string(limit)},
        QueryDone(answer_rows<EventsDone, RemoteEvent>(
            std::make_shared<EventsDone>(std::move(done)), [](std::vector<std::string>& row) {
                return RemoteEvent{std::strtoull(row[0].c_str(), nullptr, 10), std::move(row[1]),
                                   std::move(row[2])};
            })));
}

}  // namespace forkrun::controller
