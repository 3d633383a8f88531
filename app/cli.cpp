// The client commands: flags read by Boost.Program_options (cli_options), one function per
// subcommand; create --wait/--follow and watch follow the run with cli_wait.
#include "app/cli.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/program_options.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>

#include "app/cli_http.hpp"
#include "app/cli_options.hpp"
#include "app/cli_print.hpp"
#include "app/cli_request.hpp"
#include "app/cli_wait.hpp"

namespace forkrun::app {

namespace po = boost::program_options;
namespace json = boost::json;

namespace {

constexpr const char* kDefaultServer = "http://127.0.0.1:8080";

std::optional<std::string> opt(const po::variables_map& vm, const char* name) {
    return vm.count(name) ? std::optional<std::string>(vm[name].as<std::string>()) : std::nullopt;
}

int create(const CliContext& ctx,
           const po::variables_map& vm,
           const std::vector<std::string>& args) {
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
    const auto plan = wait_plan(ctx, opt(vm, "timeout"), opt(vm, "junit"), follow);
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

int get_or_watch(const CliContext& ctx,
                 const po::variables_map& vm,
                 const std::vector<std::string>& args,
                 bool watch) {
    if (args.size() != 1) {
        std::cerr << "forkrun: runs " << (watch ? "watch" : "get") << " wants one run ID\n";
        return kExitUsage;
    }
    const auto plan = watch ? wait_plan(ctx, opt(vm, "timeout"), opt(vm, "junit"), true)
                            : std::optional<WaitPlan>(WaitPlan{});
    if (!plan) {
        return kExitUsage;
    }
    const auto r = ctx.client.send("GET", "/v1/runs/" + url_escape(args[0]), std::nullopt, {},
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

int list(const CliContext& ctx, const po::variables_map& vm, const std::vector<std::string>& args) {
    if (!args.empty()) {
        std::cerr << "forkrun: runs list takes no arguments, not " << args[0] << "\n";
        return kExitUsage;
    }
    std::string query;
    for (const char* name : {"status", "limit", "cursor"}) {
        if (auto v = opt(vm, name)) {
            query += (query.empty() ? "?" : "&") + std::string(name) + "=" + url_escape(*v);
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

int cancel(const CliContext& ctx,
           const po::variables_map& vm,
           const std::vector<std::string>& args) {
    if (args.size() != 1) {
        std::cerr << "forkrun: runs cancel wants one run ID\n";
        return kExitUsage;
    }
    std::optional<std::string> body;
    if (auto reason = opt(vm, "reason")) {
        body = json::serialize(json::object{{"reason", *reason}});
    }
    const auto r = ctx.client.send("POST", "/v1/runs/" + url_escape(args[0]) + "/cancel", body, {},
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
    CliContext ctx{ApiClient(server, opt(vm, "token").value_or(env("FORKRUN_TOKEN"))),
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
