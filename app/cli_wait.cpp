// A run followed to its end through its event stream, then printed and reported.
#include "app/cli_wait.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <fstream>
#include <iostream>
#include <vector>

#include "app/cli.hpp"
#include "app/cli_junit.hpp"
#include "app/cli_print.hpp"

namespace forkrun::app {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

int exit_code_of(const std::string& status) {
    if (status == "success") {
        return kExitOk;
    }
    if (status == "failure") {
        return kExitFailed;
    }
    return status == "cancelled" ? kExitCancelled : kExitTimeout;
}

bool write_junit(const std::string& path, const json::object& run) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << junit_xml(run);
    out.close();
    if (!out) {
        std::cerr << "forkrun: cannot write the JUnit report to " << path << "\n";
        return false;
    }
    return true;
}

}  // namespace

std::string status_of(const json::object& run) {
    const auto* s = run.if_contains("status");
    return s && s->is_string() ? std::string(s->get_string()) : std::string();
}

void print_one(const CliContext& ctx, const json::object& run) {
    if (ctx.json) {
        std::cout << json::serialize(run) << "\n";
    } else {
        print_run(std::cout, run);
    }
}

std::optional<WaitPlan> wait_plan(const CliContext& ctx,
                                  const std::optional<std::string>& timeout,
                                  std::optional<std::string> junit,
                                  bool follow) {
    WaitPlan plan;
    plan.show = follow ? Show::kEvents
                       : (ctx.json ? Show::kNothing : (ctx.tty ? Show::kProgress : Show::kEvents));
    if (const auto& t = timeout) {
        double seconds = 0;
        auto [p, ec] = std::from_chars(t->data(), t->data() + t->size(), seconds);
        if (ec != std::errc() || p != t->data() + t->size() || !(seconds > 0)) {
            std::cerr << "forkrun: --timeout wants a positive number of seconds, not " << *t
                      << "\n";
            return std::nullopt;
        }
        plan.deadline =
            Clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
    }
    plan.junit = std::move(junit);
    return plan;
}

// Follows the run's event stream from its first event until `end` (reconnecting after the last
// id it saw when the stream closes early), then reads the final Run, prints it, writes the
// report; the exit code of the run's status, 4 at the deadline.
int wait_for_end(const CliContext& ctx, const json::object& first, const WaitPlan& plan) {
    const std::string id = std::string(first.at("id").as_string());
    Progress progress(first);
    std::string last_id;
    bool ended = false;
    bool timed_out = false;
    int idle_reconnects = 0;
    while (!ended) {
        std::chrono::milliseconds left{0};
        if (plan.deadline) {
            left = std::chrono::duration_cast<std::chrono::milliseconds>(*plan.deadline -
                                                                         Clock::now());
            if (left.count() <= 0) {
                timed_out = true;
                break;
            }
        }
        std::vector<std::string> headers;
        if (!last_id.empty()) {
            headers.push_back("Last-Event-ID: " + last_id);
        }
        bool got = false;
        const auto r = ctx.client.stream(
            "/v1/runs/" + url_escape(id) + "/events", headers, left, [&](const SseEvent& e) {
                got = true;
                last_id = e.id.empty() ? last_id : e.id;
                if (plan.show == Show::kEvents) {
                    if (ctx.json) {
                        boost::system::error_code ec;
                        const json::value data = json::parse(e.data, ec);
                        json::object line{{"id", e.id}, {"event", e.event}};
                        line["data"] = ec ? json::value(e.data) : data;
                        std::cout << json::serialize(line) << "\n";
                    } else {
                        std::cout << event_line(e) << "\n";
                    }
                    std::cout.flush();
                } else if (plan.show == Show::kProgress && progress.apply(e)) {
                    std::cout << progress.line() << std::flush;
                }
                ended = e.event == "end";
                return !ended;
            });
        if (ended) {
            break;
        }
        if (r.timed_out) {
            timed_out = true;
            break;
        }
        if (r.status != 200) {
            return report_http_error(std::cerr, "events of run " + id, ctx.client.server(), r);
        }
        idle_reconnects = got ? 0 : idle_reconnects + 1;
        if (idle_reconnects >= 5) {
            std::cerr << "forkrun: the event stream of run " << id
                      << " keeps closing without an event\n";
            return kExitUsage;
        }
    }
    if (plan.show == Show::kProgress) {
        std::cout << "\n";
    }
    const auto r = ctx.client.send("GET", "/v1/runs/" + url_escape(id), std::nullopt, {},
                                   std::chrono::milliseconds(30000));
    const auto run = r.status == 200 ? data_object(r) : std::nullopt;
    if (!run) {
        return report_http_error(std::cerr, "get run " + id, ctx.client.server(), r);
    }
    print_one(ctx, *run);
    if (plan.junit && !write_junit(*plan.junit, *run)) {
        return kExitUsage;
    }
    if (timed_out) {
        std::cerr << "forkrun: timed out waiting for run " << id << " (status " << status_of(*run)
                  << ")\n";
        return kExitTimeout;
    }
    return exit_code_of(status_of(*run));
}

}  // namespace forkrun::app
