// GET /v1/runs: filters, cursor and limit; a page of the memory store, or, when the database may
// hold runs this process does not (another member's, decision 72), the memory store's page merged
// with the database's, read on the store's threads.
#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "controller/remote_runs.hpp"
#include "http/api.hpp"
#include "http/envelope.hpp"
#include "http/query.hpp"
#include "http/run_json.hpp"

namespace forkrun::http {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace forkrun::controller;

namespace {

struct ListRequest {
    ListQuery q;
    bool full = false;
    FieldErrors errors;
};

std::optional<std::int64_t> parse_int(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

std::optional<bool> parse_bool(std::string_view s) {
    if (s == "true") {
        return true;
    }
    if (s == "false") {
        return false;
    }
    return std::nullopt;
}

// The query, every problem of it listed.
ListRequest parse_list(std::string_view query, const CursorCodec& cursors, std::string_view org) {
    ListRequest out;
    auto& q = out.q;
    auto& errors = out.errors;
    auto params = parse_query(query);
    if (!params) {
        errors.push_back({"/query", "the query string is malformed"});
        params.emplace();
    }
    for (const auto& p : *params) {
        const std::string where = "/query/" + p.key;
        if (p.key == "status") {
            std::string_view rest = p.value;
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                const auto one = rest.substr(0, comma);
                rest =
                    comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
                if (auto st = parse_run_status(one)) {
                    q.statuses.push_back(*st);
                } else {
                    errors.push_back({where, "unknown status \"" + std::string(one) +
                                                 "\" (waiting, running, success, failure, "
                                                 "cancelled)"});
                }
            }
        } else if (p.key == "workflowId") {
            q.workflow_id = p.value;
        } else if (p.key == "isSimulation" || p.key == "isDustTest") {
            auto b = parse_bool(p.value);
            if (!b) {
                errors.push_back({where, "must be true or false"});
            } else {
                (p.key == "isSimulation" ? q.is_simulation : q.is_dust_test) = *b;
            }
        } else if (p.key == "limit") {
            auto v = parse_int(p.value);
            if (!v || *v < 1 || *v > 200) {
                errors.push_back({where, "must be an integer from 1 to 200"});
            } else {
                q.limit = static_cast<std::size_t>(*v);
            }
        } else if (p.key == "cursor") {
            // Another organization's cursor fails like garbage: it was not given to this one.
            if (auto seq = cursors.decode(org, p.value)) {
                q.before_seq = *seq;
            } else {
                errors.push_back({where, "is not a cursor this server gave out"});
            }
        } else if (p.key == "view") {
            if (p.value != "full" && p.value != "summary") {
                errors.push_back({where, "must be \"full\" or \"summary\""});
            } else {
                out.full = p.value == "full";
            }
        }
    }
    return out;
}

// The 200 of a page: its runs' JSON, and the cursor of the next page (empty: none).
ApiResponse list_page(const std::vector<std::shared_ptr<const std::string>>& parts,
                      const std::string& next_cursor,
                      std::string request_id) {
    std::size_t size = 64;
    for (const auto& p : parts) {
        size += p->size() + 1;
    }
    std::string body;
    body.reserve(size + request_id.size() + 64);
    envelope_open(body, 200);
    body.append("{\"runs\":[");
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) {
            body.push_back(',');
        }
        body.append(*parts[i]);
    }
    body.append("],\"nextCursor\":");
    body.append(next_cursor.empty() ? "null" : json_quote(next_cursor));
    body.push_back('}');
    envelope_close(body, "success", request_id);
    ApiResponse r;
    r.status = 200;
    r.body = std::move(body);
    r.request_id = std::move(request_id);
    return r;
}

}  // namespace

ApiResponse Api::list_runs(const TokenGrant& grant,
                           std::string_view query,
                           std::string request_id) {
    const auto& org = grant.principal.organization_id;
    auto req = parse_list(query, cursors_, org);
    if (!req.errors.empty()) {
        return bad_request(req.errors, std::move(request_id));
    }
    auto page = controller_.list(grant.principal, req.q);
    std::vector<std::shared_ptr<const std::string>> parts;
    parts.reserve(page.runs.size());
    for (const auto& rec : page.runs) {
        parts.push_back(run_json(*rec, req.full ? RunView::kFull : RunView::kSummary));
    }
    return list_page(parts, page.next_before_seq ? cursors_.encode(org, *page.next_before_seq) : "",
                     std::move(request_id));
}

asio::awaitable<ApiResponse> Api::list_shared_runs(const TokenGrant& grant,
                                                   std::string_view query,
                                                   std::string request_id) {
    const auto& org = grant.principal.organization_id;
    auto req = parse_list(query, cursors_, org);
    if (!req.errors.empty()) {
        co_return bad_request(req.errors, std::move(request_id));
    }
    const auto& q = req.q;
    RemoteListQuery rq;
    rq.organization_id = org;
    for (auto st : q.statuses) {
        rq.statuses.emplace_back(to_string(st));
    }
    rq.workflow_id = q.workflow_id;
    rq.is_simulation = q.is_simulation;
    rq.is_dust_test = q.is_dust_test;
    rq.before_seq = q.before_seq;
    rq.limit = q.limit;
    rq.summaries = !req.full;
    boost::system::error_code ec;
    auto rows = co_await options_.remote->async_list(std::move(rq),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        auto r = error(503, "the database is unavailable; try again", std::move(request_id));
        r.headers.emplace_back("Retry-After", "1");
        co_return r;
    }
    // After the database's answer: this process's runs as they are now (its own live runs are
    // newer here than in their rows, written behind).
    auto page = controller_.list(grant.principal, q);
    struct Item {
        std::uint64_t seq;
        std::shared_ptr<const std::string> json;
    };
    std::vector<Item> items;
    items.reserve(page.runs.size() + rows.size());
    for (const auto& rec : page.runs) {
        items.push_back(
            {rec->org_seq(), run_json(*rec, req.full ? RunView::kFull : RunView::kSummary)});
    }
    // Each source is complete down to its frontier (the last run it gave, when it may have
    // more): the merged page stops at the higher of the two, so no run is skipped or repeated.
    std::optional<std::uint64_t> frontier;
    if (rows.size() >= q.limit && !rows.empty()) {
        frontier = rows.back().org_seq;
    }
    if (page.next_before_seq) {
        frontier = std::max(frontier.value_or(0), *page.next_before_seq);
    }
    for (auto& row : rows) {
        if (controller_.find(grant.principal, row.id)) {
            continue;  // held here: judged (and shown) as this process has it
        }
        items.push_back({row.org_seq, std::make_shared<const std::string>(std::move(row.json))});
    }
    std::sort(items.begin(), items.end(),
              [](const Item& a, const Item& b) { return a.seq > b.seq; });
    std::vector<std::shared_ptr<const std::string>> parts;
    std::uint64_t last = 0;
    for (const auto& it : items) {
        if (parts.size() == q.limit || (frontier && it.seq < *frontier)) {
            break;
        }
        parts.push_back(it.json);
        last = it.seq;
    }
    std::optional<std::uint64_t> next;
    if (parts.size() == q.limit && (items.size() > parts.size() || frontier)) {
        next = last;
    } else if (frontier) {
        next = *frontier;
    }
    co_return list_page(parts, next ? cursors_.encode(org, *next) : "", std::move(request_id));
}

}  // namespace forkrun::http
