// The client commands: flags read by Boost.Program_options, one function per subcommand, and
// the wait on a run's event stream that create --wait/--follow and watch share.
#include "app/cli.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "app/cli_http.hpp"
#include "app/cli_junit.hpp"
#include "app/cli_print.hpp"
#include "app/cli_request.hpp"

namespace forkrun::app {

namespace po = boost::program_options;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kDefaultServer = "http://127.0.0.1:8080";

// What every subcommand shares.
struct Context {
    ApiClient client;
    bool json = false;
    bool tty = false;
};

po::options_description common_options() {
    po::options_description d("Options of every runs command", 100, 50);
    d.add_options()("server", po::value<std::string>()->value_name("URL"),
                    "the server (default: $FORKRUN_SERVER, else http://127.0.0.1:8080)")(
        "token", po::value<std::string>()->value_name("TOKEN"),
        "bearer token (default: $FORKRUN_TOKEN)")("json", "print the API's JSON instead of text")(
        "help,h", "this text");
    return d;
}

po::options_description wait_options() {
    po::options_description d("Waiting (create, watch)", 100, 50);
    d.add_options()("timeout", po::value<std::string>()->value_name("SECONDS"),
                    "stop waiting after SECONDS (exit 4); implies --wait")(
        "junit", po::value<std::string>()->value_name("PATH"),
        "write JUnit XML to PATH once the run ends (a case per node); implies --wait");
    return d;
}

po::options_description create_options() {
    po::options_description d("runs create FILE|-", 100, 50);
    d.add_options()("simulate", "a simulation (isSimulation true)")(
        "mode", po::value<std::string>()->value_name("fork|pool"),
        "simulationMode; implies --simulate")("chains", po::value<std::string>()->value_name("IDS"),
                                              "the run's chains, e.g. 1,8453")(
        "dust", "a dust test (isDustTest true)")(
        "prop", po::value<std::vector<std::string>>()->value_name("KEY=VALUE"),
        "a propValue (repeatable); VALUE is read as the type inputSchema declares")(
        "workflow-id", po::value<std::string>()->value_name("ID"),
        "workflowId (default: the file's, else its name without extension)")(
        "workflow-version", po::value<std::string>()->value_name("N"),
        "workflowVersion (default: the file's, else 1)")(
        "idempotency-key", po::value<std::string>()->value_name("KEY"),
        "sent as Idempotency-Key: a repeat within 24 h answers the first run")(
        "wait", "wait until the run ends; exit 0 success, 1 failure, 3 cancelled")(
        "follow", "print each event of the run as it happens, until it ends");
    return d;
}

po::options_description list_options() {
    po::options_description d("runs list", 100, 50);
    d.add_options()("status", po::value<std::string>()->value_name("S,..."),
                    "only these statuses (waiting, running, success, failure, cancelled)")(
        "limit", po::value<std::string>()->value_name("N"), "at most N runs (1-200, default 50)")(
        "cursor", po::value<std::string>()->value_name("CURSOR"), "the page after a nextCursor");
    return d;
}

po::options_description cancel_options() {
    po::options_description d("runs cancel ID", 100, 50);
    d.add_options()("reason", po::value<std::string>()->value_name("TEXT"),
                    "why (at most 500 characters)");
    return d;
}

std::string escape(const std::string& s) {
    char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
    std::string out = e ? e : "";
    curl_free(e);
    return out;
}

std::optional<json::object> data_object(const ClientResponse& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object()) {
        return std::nullopt;
    }
    auto* d = v.get_object().if_contains("data");
    if (!d || !d->is_object()) {
        return std::nullopt;
    }
    return std::move(d->get_object());
}

int exit_code_of(const std::string& status) {
    if (status == "success") {
        return kExitOk;
    }
    if (status == "failure") {
        return kExitFailed;
    }
    return status == "cancelled" ? kExitCancelled : kExitTimeout;
}

std::string status_of(const json::object& run) {
    const auto* s = run.if_contains("status");
    return s && s->is_string() ? std::string(s->get_string()) : std::string();
}

void print_one(const Context& ctx, const json::object& run) {
    if (ctx.json) {
        std::cout << json::serialize(run) << "\n";
    } else {
        print_run(std::cout, run);
    }
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

// How a wait shows a run's events.
enum class Show { kEvents, kProgress, kNothing };

struct WaitPlan {
    Show show = Show::kNothing;
    std::optional<Clock::time_point> deadline;
    std::optional<std::string> junit;
};

// Follows the run's event stream from its first event until `end` (reconnecting after the last
// id it saw when the stream closes early), then reads the final Run, prints it, writes the
// report; the exit code of the run's status, 4 at the deadline.
int wait_for_end(const Context& ctx, const json::object& first, const WaitPlan& plan) {
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
            "/v1/runs/" + escape(id) + "/events", headers, left, [&](const SseEvent& e) {
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
    const auto r = ctx.client.send("GET", "/v1/runs/" + escape(id), std::nullopt, {},
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

std::optional<std::string> opt(const po::variables_map& vm, const char* name) {
    return vm.count(name) ? std::optional<std::string>(vm[name].as<std::string>()) : std::nullopt;
}

// The wait --timeout, --junit, --wait and --follow ask for; nullopt with a message if invalid.
std::optional<WaitPlan> wait_plan(const Context& ctx, const po::variables_map& vm, bool follow) {
    WaitPlan plan;
    plan.show = follow ? Show::kEvents
                       : (ctx.json ? Show::kNothing : (ctx.tty ? Show::kProgress : Show::kEvents));
    if (auto t = opt(vm, "timeout")) {
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
    plan.junit = opt(vm, "junit");
    return plan;
}

int create(const Context& ctx, const po::variables_map& vm, const std::vector<std::string>& args) {
    if (args.size() != 1) {
        std::cerr << "forkrun: runs create wants one FILE (or - for stdin)\n";
        return kExitUsage;
    }
    const std::string& path = args[0];
    std::string text;
    if (path == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            std::cerr << "forkrun: cannot read " << path << "\n";
            return kExitUsage;
        }
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    boost::system::error_code ec;
    const json::value file = json::parse(text, ec);
    if (ec) {
        std::cerr << "forkrun: " << path << " is not valid JSON (" << ec.message() << ")\n";
        return kExitUsage;
    }
    CreateFlags flags;
    flags.simulate = vm.count("simulate") > 0;
    flags.mode = opt(vm, "mode");
    flags.chains = opt(vm, "chains");
    flags.dust = vm.count("dust") > 0;
    if (vm.count("prop")) {
        flags.props = vm["prop"].as<std::vector<std::string>>();
    }
    flags.workflow_id = opt(vm, "workflow-id");
    flags.workflow_version = opt(vm, "workflow-version");
    std::string stem = path == "-" ? "cli" : path.substr(path.find_last_of('/') + 1);
    stem = stem.substr(0, stem.find('.'));
    std::vector<std::string> problems;
    const auto body = create_body(file, stem.empty() ? "cli" : stem, flags, problems);
    const bool follow = vm.count("follow") > 0;
    const bool wait = follow || vm.count("wait") || vm.count("timeout") || vm.count("junit");
    const auto plan = wait_plan(ctx, vm, follow);
    if (!body || !plan) {
        for (const auto& p : problems) {
            std::cerr << "forkrun: " << p << "\n";
        }
        return kExitUsage;
    }
    std::vector<std::string> headers;
    const auto key = opt(vm, "idempotency-key");
    if (key) {
        // "Name;" sends an empty value (a 400 from the server); "Name:" would send none.
        headers.push_back(key->empty() ? "Idempotency-Key;" : "Idempotency-Key: " + *key);
    }
    const auto r = ctx.client.send("POST", "/v1/runs", json::serialize(*body), headers,
                                   std::chrono::milliseconds(60000));
    const auto run = r.status == 201 ? data_object(r) : std::nullopt;
    if (!run) {
        return report_http_error(std::cerr, "create", ctx.client.server(), r);
    }
    const bool replayed = r.header("idempotent-replayed") == "true";
    if (!wait) {
        if (!ctx.json && replayed) {
            std::cout << "(replayed: Idempotency-Key " << *key << " made this run before)\n";
        }
        print_one(ctx, *run);
        return kExitOk;
    }
    if (!ctx.json) {
        std::cout << "run " << run->at("id").as_string().c_str() << " " << status_of(*run)
                  << (replayed ? " (replayed: Idempotency-Key " + *key + ")" : "") << "\n";
    }
    return wait_for_end(ctx, *run, *plan);
}

int get_or_watch(const Context& ctx,
                 const po::variables_map& vm,
                 const std::vector<std::string>& args,
                 bool watch) {
    if (args.size() != 1) {
        std::cerr << "forkrun: runs " << (watch ? "watch" : "get") << " wants one run ID\n";
        return kExitUsage;
    }
    const auto plan = watch ? wait_plan(ctx, vm, true) : std::optional<WaitPlan>(WaitPlan{});
    if (!plan) {
        return kExitUsage;
    }
    const auto r = ctx.client.send("GET", "/v1/runs/" + escape(args[0]), std::nullopt, {},
                                   std::chrono::milliseconds(30000));
    const auto run = r.status == 200 ? data_object(r) : std::nullopt;
    if (!run) {
        return report_http_error(std::cerr, "get run " + args[0], ctx.client.server(), r);
    }
    if (!watch) {
        print_one(ctx, *run);
        return kExitOk;
    }
    return wait_for_end(ctx, *run, *plan);
}

int list(const Context& ctx, const po::variables_map& vm, const std::vector<std::string>& args) {
    if (!args.empty()) {
        std::cerr << "forkrun: runs list takes no arguments, not " << args[0] << "\n";
        return kExitUsage;
    }
    std::string query;
    for (const char* name : {"status", "limit", "cursor"}) {
        if (auto v = opt(vm, name)) {
            query += (query.empty() ? "?" : "&") + std::string(name) + "=" + escape(*v);
        }
    }
    const auto r = ctx.client.send("GET", "/v1/runs" + query, std::nullopt, {},
                                   std::chrono::milliseconds(30000));
    const auto page = r.status == 200 ? data_object(r) : std::nullopt;
    if (!page) {
        return report_http_error(std::cerr, "list runs", ctx.client.server(), r);
    }
    if (ctx.json) {
        std::cout << json::serialize(*page) << "\n";
    } else {
        print_runs(std::cout, *page);
    }
    return kExitOk;
}

int cancel(const Context& ctx, const po::variables_map& vm, const std::vector<std::string>& args) {
    if (args.size() != 1) {
        std::cerr << "forkrun: runs cancel wants one run ID\n";
        return kExitUsage;
    }
    std::optional<std::string> body;
    if (auto reason = opt(vm, "reason")) {
        body = json::serialize(json::object{{"reason", *reason}});
    }
    const auto r = ctx.client.send("POST", "/v1/runs/" + escape(args[0]) + "/cancel", body, {},
                                   std::chrono::milliseconds(60000));
    const auto run = r.status == 200 ? data_object(r) : std::nullopt;
    if (!run) {
        return report_http_error(std::cerr, "cancel run " + args[0], ctx.client.server(), r);
    }
    print_one(ctx, *run);
    return kExitOk;
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

}  // namespace

std::string runs_usage() {
    std::ostringstream out;
    out << "forkrun runs: a client of a running forkrun server.\n\n"
           "Usage:\n"
           "  forkrun runs create FILE|- [--simulate] [--mode fork|pool] [--chains IDS] [--dust]\n"
           "                             [--prop KEY=VALUE]... [--idempotency-key KEY]\n"
           "                             [--wait | --follow] [--timeout SECONDS] [--junit PATH]\n"
           "  forkrun runs get ID\n"
           "  forkrun runs list [--status S,...] [--limit N] [--cursor CURSOR]\n"
           "  forkrun runs cancel ID [--reason TEXT]\n"
           "  forkrun runs watch ID [--timeout SECONDS] [--junit PATH]\n\n"
           "FILE is a POST /v1/runs body, or only its workflowDefinition (workflowId is then the\n"
           "file's name, workflowVersion 1). Flags given override the file's fields.\n\n"
        << common_options() << "\n"
        << create_options() << "\n"
        << wait_options() << "\n"
        << list_options() << "\n"
        << cancel_options()
        << "\nExit codes: 0 the run succeeded (or the command did), 1 the run failed, 3 it was\n"
           "cancelled, 4 --timeout passed first, 2 a usage or HTTP error.\n";
    return out.str();
}

int runs_command(const std::vector<std::string>& args) {
    const std::string sub = args.empty() ? "" : args[0];
    if (sub.empty() || sub == "--help" || sub == "-h" || sub == "help") {
        (sub.empty() ? std::cerr : std::cout) << runs_usage();
        return sub.empty() ? kExitUsage : kExitOk;
    }
    po::options_description options = common_options();
    if (sub == "create") {
        options.add(create_options()).add(wait_options());
    } else if (sub == "watch") {
        options.add(wait_options());
    } else if (sub == "list") {
        options.add(list_options());
    } else if (sub == "cancel") {
        options.add(cancel_options());
    } else if (sub != "get") {
        std::cerr << "forkrun: unknown runs command " << sub
                  << " (create, get, list, cancel, watch)\n";
        return kExitUsage;
    }
    options.add_options()("args", po::value<std::vector<std::string>>(), "");
    po::positional_options_description positional;
    positional.add("args", -1);
    po::variables_map vm;
    try {
        const std::vector<std::string> rest(args.begin() + 1, args.end());
        const int style =
            po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
        po::store(po::command_line_parser(rest)
                      .options(options)
                      .positional(positional)
                      .style(style)
                      .run(),
                  vm);
    } catch (const po::error& e) {
        std::cerr << "forkrun: runs " << sub << ": " << e.what() << " (see forkrun runs --help)\n";
        return kExitUsage;
    }
    if (vm.count("help")) {
        std::cout << runs_usage();
        return kExitOk;
    }
    if (vm.count("wait") && vm.count("follow")) {
        std::cerr << "forkrun: runs create: --wait and --follow exclude each other\n";
        return kExitUsage;
    }
    const auto positionals =
        vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
    std::string server = opt(vm, "server").value_or(env("FORKRUN_SERVER"));
    if (server.empty()) {
        server = kDefaultServer;
    }
    if (!server.starts_with("http://") && !server.starts_with("https://")) {
        std::cerr << "forkrun: --server wants an http:// or https:// URL, not " << server << "\n";
        return kExitUsage;
    }
    Context ctx{ApiClient(server, opt(vm, "token").value_or(env("FORKRUN_TOKEN"))),
                vm.count("json") > 0, ::isatty(STDOUT_FILENO) == 1};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int code = kExitUsage;
    if (sub == "create") {
        code = create(ctx, vm, positionals);
    } else if (sub == "get" || sub == "watch") {
        code = get_or_watch(ctx, vm, positionals, sub == "watch");
    } else if (sub == "list") {
        code = list(ctx, vm, positionals);
    } else {
        code = cancel(ctx, vm, positionals);
    }
    std::cout.flush();
    curl_global_cleanup();
    return code;
}

}  // namespace forkrun::app
