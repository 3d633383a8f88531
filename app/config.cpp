// serve's flags as one table read by Boost.Program_options: the command line, then the
// environment (FORKRUN_<FLAG>, through a name mapper), over the config file (config_file.cpp).
#include "app/config.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <functional>
#include <sstream>
#include <thread>

#include "app/config_file.hpp"
#include "http/cors.hpp"

namespace forkrun::app {

namespace po = boost::program_options;

namespace {

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

// Applies one value of `--<flag>`: the problem, or empty.
using Apply = std::function<std::string(Config&, const std::string& flag, const std::string& v)>;

// A flag of serve. Every flag with a value can also come from the environment.
struct Flag {
    std::string name;
    std::string value_name;  // empty: a switch, which takes no value
    std::string help;
    Apply apply;
    bool repeatable = false;  // every occurrence applies; otherwise the last one does
    // A repeatable flag's values replace what the config file set: this empties it first.
    std::function<void(Config&)> clear = nullptr;
};

// A number of at least `minimum` (0 or 1) stored in the field `field` gives.
template <class Field>
Apply number(Field field, std::size_t minimum = 0) {
    return [field, minimum](Config& c, const std::string& flag, const std::string& v) {
        auto& dst = field(c);
        std::remove_reference_t<decltype(dst)> n{};
        if (!parse_number(v, n) || static_cast<std::size_t>(n) < minimum) {
            return "--" + flag + (minimum > 0 ? " needs a positive number" : " needs a number");
        }
        dst = n;
        return std::string();
    };
}

// A positive number of milliseconds.
template <class Field>
Apply millis(Field field) {
    return [field](Config& c, const std::string& flag, const std::string& v) {
        long ms = 0;
        if (!parse_number(v, ms) || ms <= 0) {
            return "--" + flag + " needs a positive number";
        }
        field(c) = std::chrono::milliseconds(ms);
        return std::string();
    };
}

// Any string.
template <class Field>
Apply text(Field field) {
    return [field](Config& c, const std::string&, const std::string& v) {
        field(c) = v;
        return std::string();
    };
}

bool parse_chain_list(std::string_view s, std::vector<std::uint64_t>& out) {
    out.clear();
    while (!s.empty()) {
        const auto comma = s.find(',');
        std::uint64_t id = 0;
        if (!parse_number(s.substr(0, comma), id) || id == 0) {
            return false;
        }
        out.push_back(id);
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    }
    return !out.empty();
}

std::string listen(Config& c, const std::string&, const std::string& v) {
    const auto colon = v.rfind(':');
    if (colon == std::string::npos || !parse_number(v.substr(colon + 1), c.port)) {
        return "--listen wants HOST:PORT";
    }
    c.host = v.substr(0, colon);
    return {};
}

std::string devnet(Config& c, const std::string&, const std::string& v) {
    return parse_chain_list(v, c.forks.devnet) ? "" : "--devnet wants chain ids like 1,8453";
}

std::string fork_spawn_limit(Config& c, const std::string&, const std::string& v) {
    std::size_t n = 0;
    if (!parse_number(v, n) || n == 0 || n > forks::kMaxForkSpawnLimit) {
        return "--fork-spawn-limit wants a number from 1 to " +
               std::to_string(forks::kMaxForkSpawnLimit);
    }
    c.forks.fork_spawn_limit = n;
    return {};
}

std::string spawn_ahead(Config& c, const std::string&, const std::string& v) {
    std::size_t n = 0;
    if (!parse_number(v, n) || n > forks::kMaxSpawnAhead) {
        return "--spawn-ahead wants a number from 0 to " + std::to_string(forks::kMaxSpawnAhead);
    }
    c.forks.spawn_ahead = n;
    return {};
}

std::string cors_origin(Config& c, const std::string&, const std::string& v) {
    const auto why = http::add_cors_origins(v, c.server.cors_origins);
    return why.empty() ? why : "--cors-origin: " + why;
}

std::string max_connections(Config& c, const std::string&, const std::string& v) {
    std::size_t n = 0;
    if (!parse_number(v, n) || n == 0) {
        return "--max-connections wants a positive number";
    }
    c.server.max_connections = n;
    return {};
}

std::string store(Config& c, const std::string&, const std::string& v) {
    if (v != "memory" && !v.starts_with("postgresql://") && !v.starts_with("postgres://")) {
        return "--store wants memory or a postgresql:// URL";
    }
    c.store = v;
    return {};
}

// The table of serve's flags, in --help's order. `--config` is read before the others (its
// file is what they override), so its entry applies nothing.
const std::vector<Flag>& flags() {
    static const std::vector<Flag> table = [] {
        std::vector<Flag> t = {
            {"listen", "HOST:PORT",
             "address to serve on (default 127.0.0.1:8080; port 0 picks a free port)", listen},
            {"tokens", "FILE",
             "tokens file (JSON array of {token | tokenSha256, organizationId, subject, "
             "scopes}); without it a dev token for org_dev is made and printed",
             text([](Config& c) -> std::optional<std::string>& { return c.tokens_file; })},
            {"threads", "N", "HTTP threads (default: the number of cores)",
             number([](Config& c) -> unsigned& { return c.threads; }, 1)},
            {"body-limit", "BYTES", "largest request body (default 1048576)",
             number([](Config& c) -> std::size_t& { return c.server.body_limit; })},
            {"header-limit", "BYTES", "largest request header block (default 16384)",
             number([](Config& c) -> std::size_t& { return c.server.header_limit; })},
            {"read-timeout-ms", "N", "a started request must arrive within N ms (default 10000)",
             millis([](Config & c) -> auto& { return c.server.read_timeout; })},
            {"idle-timeout-ms", "N", "close kept-alive connections idle for N ms (default 30000)",
             millis([](Config & c) -> auto& { return c.server.idle_timeout; })},
            {"config", "FILE",
             "JSON config: chains (upstreamRpcUrl, poolSize, pinnedPools, spawnAhead), anvilPath, "
             "cuTable, teardownTimeoutMs, leaseTimeoutMs, rpcTimeoutMs, forkSpawnLimit, "
             "spawnAhead, spawnAheadMaxAgeMs, publicBaseUrl, devnet",
             nullptr},
            {"devnet", "IDS", "start a local anvil per listed chain (e.g. 1,8453) as its upstream",
             devnet},
            {"anvil", "PATH", "the anvil binary (default: the pinned one under tools/node_modules)",
             text([](Config& c) -> std::string& { return c.forks.anvil_path; })},
            {"cu-table", "FILE", "CU cost table (default: fixtures/cu/alchemy-2026-11.json)",
             text([](Config& c) -> std::string& { return c.forks.cu_table_path; })},
            {"public-url", "URL", "base of the rpcUrls handed out (default: the listen address)",
             text([](Config& c) -> std::string& { return c.public_url; })},
            {"teardown-timeout-ms", "N", "bound on each fork's teardown (default 5000)",
             millis([](Config & c) -> auto& { return c.forks.teardown_timeout; })},
            {"fork-spawn-limit", "N",
             "anvils starting at once; more wait their turn (default: twice the cores, at least "
             "2; config key forkSpawnLimit)",
             fork_spawn_limit},
            {"spawn-ahead", "N",
             "fresh forks kept started per configured chain for fork-mode runs, each ~24 MB "
             "(default 1; 0 starts every fork on demand; config key spawnAhead, per chain "
             "chains.<id>.spawnAhead)",
             spawn_ahead},
            {"spawn-ahead-max-age-ms", "N",
             "a fork started ahead that no run took within N ms is replaced (default 60000; "
             "config key spawnAheadMaxAgeMs)",
             millis([](Config & c) -> auto& { return c.forks.spawn_ahead_max_age; })},
            {"retain-runs", "N",
             "runs kept in memory; past N the oldest finished runs are dropped (default 100000; "
             "0 keeps all; config key retainRuns)",
             number([](Config& c) -> std::size_t& { return c.retain_runs; })},
            {"blocks-dir", "DIR",
             "the block library, one JSON file per block (default: fixtures/blocks; config key "
             "blocksDir)",
             text([](Config& c) -> std::string& { return c.blocks_dir; })},
            {"max-connections", "N",
             "connections served at once (default: from the file descriptor limit, at most "
             "10000; config key maxConnections); past it the one idle longest is closed, or the "
             "newest get 503",
             max_connections},
            {"cors-origin", "ORIGIN",
             "let pages of ORIGIN (e.g. https://app.example.com) call the API from a browser "
             "(CORS); repeatable or comma-separated (config key corsOrigins, an array)",
             cors_origin, true, [](Config& c) { c.server.cors_origins.clear(); }},
            {"store", "memory|URL",
             "where runs are kept: memory (the default; lost with the process) or "
             "postgresql://USER@HOST:PORT/DB (durable; config key store)",
             store},
            {"controller-id", "ID",
             "this controller's id in the durable store (default: the host name; config key "
             "controllerId)",
             text([](Config& c) -> std::string& { return c.controller_id; })},
            {"lease-ms", "N",
             "with --store postgresql://...: a controller silent for N ms has its live runs "
             "finished as controllerLost by another (default 10000; config key leaseMs)",
             millis([](Config & c) -> auto& { return c.lease; })},
            {"store-retention-ms", "N",
             "with --store postgresql://...: finished runs created more than N ms ago are "
             "deleted from the store with their events (default 2592000000, 30 days; 0 keeps "
             "all; config key storeRetentionMs)",
             [](Config& c, const std::string& flag, const std::string& v) {
                 long long ms = 0;
                 if (!parse_number(v, ms) || ms < 0) {
                     return "--" + flag + " needs a number";
                 }
                 c.store_retention = std::chrono::milliseconds(ms);
                 return std::string();
             }},
            {"no-access-log", "", "do not log one line per request on stderr",
             [](Config& c, const std::string&, const std::string&) {
                 c.server.access_log = false;
                 return std::string();
             }},
        };
        // The limits (controller/limits.cpp) check their own values.
        for (const auto flag : controller::limit_flags()) {
            t.push_back({std::string(flag), "N", controller::limit_flag_help(flag),
                         [](Config& c, const std::string& name, const std::string& v) {
                             return controller::apply_limit_flag("--" + name, v, c.limits)
                                 .value_or("--" + name + " is not a limit");
                         }});
        }
        t.push_back({"help", "", "this text", nullptr});
        return t;
    }();
    return table;
}

const Flag* find_flag(std::string_view name) {
    const auto& t = flags();
    const auto it = std::find_if(t.begin(), t.end(), [&](const Flag& f) { return f.name == name; });
    return it == t.end() ? nullptr : &*it;
}

// FORKRUN_LISTEN for listen, FORKRUN_CU_TABLE for cu-table.
std::string env_name(std::string_view flag) {
    std::string var = "FORKRUN_";
    for (char c : flag) {
        var.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
    }
    return var;
}

// The flag a variable of the environment stands for, or empty (the variable is ignored).
std::string flag_of_env(const std::string& var) {
    if (!var.starts_with("FORKRUN_")) {
        return {};
    }
    std::string name;
    for (char c : var.substr(8)) {
        name.push_back(c == '_' ? '-' : static_cast<char>(std::tolower(c)));
    }
    const Flag* f = find_flag(name);
    return f && !f->value_name.empty() && env_name(name) == var ? name : std::string();
}

// What the usage shows: every flag. Each value is kept as text, every occurrence of it.
po::options_description visible_options() {
    po::options_description desc("Options for serve", 100, 50);
    for (const auto& f : flags()) {
        auto* value = po::value<std::vector<std::string>>();
        if (f.value_name.empty()) {
            value->zero_tokens();
        } else {
            value->value_name(f.value_name);
        }
        desc.add_options()(f.name.c_str(), value, f.help.c_str());
    }
    return desc;
}

// Reads the command line and the environment into `vm`, the command line first: a flag given
// there hides its variable. Throws po::error.
void read_sources(const std::vector<std::string>& args, po::variables_map& vm) {
    po::options_description all = visible_options();
    // -h, and any word that is not an option (reported as an unknown one).
    all.add_options()(",h", po::value<std::vector<std::string>>()->zero_tokens(), "");
    all.add_options()("unexpected", po::value<std::vector<std::string>>(), "");
    po::positional_options_description words;
    words.add("unexpected", -1);
    // No guessing: an abbreviation of a flag is an unknown option, as a new flag could make
    // it ambiguous.
    const int style =
        po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::store(po::command_line_parser(args).options(all).positional(words).style(style).run(), vm);
    auto env = po::parse_environment(all, flag_of_env);
    // An empty variable is as good as none.
    std::erase_if(env.options,
                  [](const po::option& o) { return o.value.empty() || o.value.front().empty(); });
    po::store(env, vm);
}

ParseResult failure(std::string err) {
    ParseResult r;
    r.exit_code = 2;
    r.err = std::move(err);
    return r;
}

}  // namespace

Config default_config() {
    Config c;
    c.threads = std::max(1u, std::thread::hardware_concurrency());
    c.forks.anvil_path = std::string(FORKRUN_SOURCE_DIR) +
                         "/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
    c.forks.cu_table_path = std::string(FORKRUN_SOURCE_DIR) + "/fixtures/cu/alchemy-2026-11.json";
    c.blocks_dir = std::string(FORKRUN_SOURCE_DIR) + "/fixtures/blocks";
    return c;
}

std::string usage() {
    std::ostringstream out;
    out << "forkrun: workflow runs for blockchain automation, with simulation forks.\n\n"
           "Usage:\n"
           "  forkrun serve [options]\n"
           "  forkrun runs create|get|list|cancel|watch ...   (forkrun runs --help)\n"
           "  forkrun --version\n\n"
        << visible_options()
        << "\nEvery flag with a value can also come from the environment as FORKRUN_<FLAG> "
           "(e.g.\nFORKRUN_LISTEN, FORKRUN_DEVNET, FORKRUN_ANVIL); flags override the "
           "environment, which\noverrides the config file.\n";
    // Program_options leaves a space at the end of each line it wraps.
    std::string text = out.str();
    for (auto at = text.find(" \n"); at != std::string::npos; at = text.find(" \n", at)) {
        text.erase(at, 1);
        at = at > 0 ? at - 1 : 0;
    }
    return text;
}

ParseResult parse_serve(const std::vector<std::string>& args) {
    po::variables_map vm;
    try {
        read_sources(args, vm);
    } catch (const po::unknown_option& e) {
        return failure("forkrun: unknown option " + e.get_option_name() + "\n" + usage());
    } catch (const po::invalid_command_line_syntax& e) {
        if (e.kind() == po::invalid_syntax::missing_parameter) {
            return failure("forkrun: " + e.get_option_name() + " needs a value\n");
        }
        return failure(std::string("forkrun: ") + e.what() + "\n");
    } catch (const po::error& e) {
        return failure(std::string("forkrun: ") + e.what() + "\n");
    }
    if (vm.count("help") || vm.count("-h")) {
        ParseResult r;
        r.out = usage();
        return r;
    }
    if (vm.count("unexpected")) {
        const auto& words = vm["unexpected"].as<std::vector<std::string>>();
        return failure("forkrun: unknown option " + words.front() + "\n" + usage());
    }

    Config c = default_config();
    std::string err;
    if (vm.count("config")) {
        for (const auto& path : vm["config"].as<std::vector<std::string>>()) {
            if (!load_config_file(path, c, err)) {
                return failure(err);
            }
        }
    }
    for (const auto& f : flags()) {
        if (!f.apply || !vm.count(f.name)) {
            continue;
        }
        auto values = vm[f.name].as<std::vector<std::string>>();
        if (values.empty()) {
            values.emplace_back();  // a switch
        }
        if (f.clear) {
            f.clear(c);
        }
        for (auto v = f.repeatable ? values.begin() : values.end() - 1; v != values.end(); ++v) {
            if (auto problem = f.apply(c, f.name, *v); !problem.empty()) {
                err += "forkrun: " + problem + "\n";
            }
        }
    }
    if (!err.empty()) {
        return failure(err);
    }
    c.server.host = c.host;
    c.server.port = c.port;
    c.forks.max_unconfigured_chains = c.limits.unconfigured_chains;
    c.forks.unconfigured_pool_idle = std::chrono::milliseconds(c.limits.unconfigured_pool_idle_ms);
    ParseResult r;
    r.config = std::move(c);
    return r;
}

}  // namespace forkrun::app
