// forkrun: wires the http, controller and forks libraries into the `forkrun` executable.
#include <malloc.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/controller.hpp"
#include "controller/fork_chains.hpp"
#include "controller/limits.hpp"
#include "controller/rpc_gateway.hpp"
#include "controller/run_ids.hpp"
#include "controller/signers.hpp"
#include "forks/eth/uint256.hpp"
#include "forks/fork_manager.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/cors.hpp"
#include "http/run_json.hpp"
#include "http/server.hpp"

namespace asio = boost::asio;
using namespace forkrun;

namespace {

constexpr const char* kUsage =
    R"(forkrun: workflow runs for blockchain automation, with simulation forks.

Usage:
  forkrun serve [options]
  forkrun --version

Options for serve:
  --listen HOST:PORT      address to serve on (default 127.0.0.1:8080; port 0 picks a free port)
  --tokens FILE           tokens file (JSON array of {token | tokenSha256, organizationId,
                          subject, scopes}); without it a dev token for org_dev is made and printed
  --threads N             HTTP threads (default: the number of cores)
  --body-limit BYTES      largest request body (default 1048576)
  --header-limit BYTES    largest request header block (default 16384)
  --read-timeout-ms N     a started request must arrive within N ms (default 10000)
  --idle-timeout-ms N     close kept-alive connections idle for N ms (default 30000)
  --config FILE           JSON config: chains (upstreamRpcUrl, poolSize), anvilPath, cuTable,
                          teardownTimeoutMs, leaseTimeoutMs, rpcTimeoutMs, forkSpawnLimit,
                          publicBaseUrl, devnet
  --devnet IDS            start a local anvil per listed chain (e.g. 1,8453) as its upstream
  --anvil PATH            the anvil binary (default: the pinned one under tools/node_modules)
  --cu-table FILE         CU cost table (default: fixtures/cu/alchemy-2026-11.json)
  --public-url URL        base of the rpcUrls handed out (default: the listen address)
  --teardown-timeout-ms N bound on each fork's teardown (default 5000)
  --fork-spawn-limit N    anvils starting at once; more wait their turn (default: twice the
                          cores, at least 2; config key forkSpawnLimit)
  --retain-runs N         runs kept in memory; past N the oldest finished runs are dropped
                          (default 100000; 0 keeps all; config key retainRuns)
  --blocks-dir DIR        the block library, one JSON file per block (default: fixtures/blocks;
                          config key blocksDir)
  --max-connections N     connections served at once (default: from the file descriptor
                          limit, at most 10000; config key maxConnections); past it the one
                          idle longest is closed, or the newest get 503
  --cors-origin ORIGIN    let pages of ORIGIN (e.g. https://app.example.com) call the API
                          from a browser (CORS); repeatable or comma-separated (config key
                          corsOrigins, an array)
  --no-access-log         do not log one line per request on stderr
  --help                  this text

Every flag can also come from the environment as FORKRUN_<FLAG> (e.g. FORKRUN_LISTEN,
FORKRUN_DEVNET, FORKRUN_ANVIL); flags override the environment, which overrides the config file.
)";

// The usage text with the limit flags (controller/limits.cpp) before the environment note.
std::string usage() {
    std::string text = kUsage;
    text.insert(text.find("\nEvery flag"), controller::limits_usage());
    return text;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

struct Options {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    std::optional<std::string> tokens_file;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    http::ServerConfig server;
    forks::ForksConfig forks;
    std::string public_url;
    controller::Signers signers;
    eth::Uint256 dust_wei{1000};
    bool simulation_report = true;
    std::string blocks_dir;
    std::size_t retain_runs = controller::RunStore::kDefaultRetain;
    controller::Limits limits;
};

// FORKRUN_<FLAG> environment variables, as flags placed before the command line's own.
std::vector<std::string> env_flags() {
    static const char* const kFlags[] = {"listen",
                                         "tokens",
                                         "threads",
                                         "body-limit",
                                         "header-limit",
                                         "read-timeout-ms",
                                         "idle-timeout-ms",
                                         "config",
                                         "devnet",
                                         "anvil",
                                         "cu-table",
                                         "public-url",
                                         "teardown-timeout-ms",
                                         "fork-spawn-limit",
                                         "blocks-dir",
                                         "retain-runs",
                                         "max-connections",
                                         "cors-origin"};
    std::vector<std::string> flags(std::begin(kFlags), std::end(kFlags));
    for (auto f : controller::limit_flags()) {
        flags.emplace_back(f);
    }
    std::vector<std::string> out;
    for (const auto& f : flags) {
        std::string var = "FORKRUN_";
        for (char c : f) {
            var.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
        }
        if (const char* v = std::getenv(var.c_str()); v && *v) {
            out.push_back("--" + f);
            out.push_back(v);
        }
    }
    return out;
}

bool load_config(const std::string& path, Options& o) {
    std::ifstream in(path);
    if (!in) {
        std::cerr << "forkrun: cannot read config file " << path << "\n";
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    auto doc = boost::json::parse(ss.str(), ec);
    if (ec) {
        std::cerr << "forkrun: config file " << path << " is not JSON: " << ec.message() << "\n";
        return false;
    }
    std::vector<std::string> problems;
    forks::read_forks_config(doc, o.forks, problems);
    if (const auto* c = doc.is_object() ? doc.as_object().if_contains("corsOrigins") : nullptr) {
        if (auto why = http::read_cors_origins(*c, o.server.cors_origins); !why.empty()) {
            problems.push_back("corsOrigins: " + why);
        }
    }
    o.signers.read_config(doc, problems);
    controller::read_limits_config(doc, o.limits, problems);
    if (const auto* obj = doc.if_object()) {
        if (const auto* d = obj->if_contains("dustWei")) {
            auto v = d->is_string() ? eth::Uint256::from_decimal(d->get_string())
                                    : boost::system::result<eth::Uint256>(
                                          make_error_code(eth::Uint256Error::kNotAString));
            if (!v) {
                problems.push_back("dustWei must be a decimal string of wei");
            } else {
                o.dust_wei = *v;
            }
        }
    }
    if (const auto* obj = doc.if_object()) {
        if (const auto* r = obj->if_contains("simulationReport")) {
            if (!r->is_bool()) {
                problems.push_back("simulationReport must be true or false");
            } else {
                o.simulation_report = r->get_bool();
            }
        }
        if (const auto* u = obj->if_contains("publicBaseUrl"); u && u->is_string()) {
            o.public_url = std::string(u->get_string());
        }
        if (const auto* n = obj->if_contains("retainRuns")) {
            std::error_code ec;
            const auto v = n->is_number() ? n->to_number<std::size_t>(ec) : 0;
            if (!n->is_number() || ec) {
                problems.push_back("retainRuns must be a non-negative integer");
            } else {
                o.retain_runs = v;
            }
        }
        if (const auto* n = obj->if_contains("maxConnections")) {
            std::error_code ec;
            const auto v = n->is_number() ? n->to_number<std::size_t>(ec) : 0;
            if (!n->is_number() || ec || v == 0) {
                problems.push_back("maxConnections must be a positive integer");
            } else {
                o.server.max_connections = v;
            }
        }
        if (const auto* b = obj->if_contains("blocksDir")) {
            if (!b->is_string() || b->get_string().empty()) {
                problems.push_back("blocksDir must be the path of a folder");
            } else {
                // Relative to the config file, like a path written next to it.
                std::filesystem::path dir(std::string(b->get_string()));
                o.blocks_dir = dir.is_absolute()
                                   ? dir.string()
                                   : (std::filesystem::path(path).parent_path() / dir).string();
            }
        }
    }
    for (const auto& p : problems) {
        std::cerr << "forkrun: config file " << path << ": " << p << "\n";
    }
    return problems.empty();
}

// scheme://host:port of `url`: a provider's key often sits in the path or the user part, and
// what the server prints may end up in a log.
std::string url_origin(std::string_view url) {
    const auto scheme = url.find("://");
    const auto start = scheme == std::string_view::npos ? 0 : scheme + 3;
    auto authority = url.substr(start, url.find_first_of("/?#", start) - start);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority.remove_prefix(at + 1);
    }
    return std::string(url.substr(0, start)) + std::string(authority);
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

// Parses serve's flags; prints the problem and returns nothing on a bad one.
std::optional<Options> parse_serve(std::vector<std::string> args) {
    Options o;
    o.forks.anvil_path = std::string(FORKRUN_SOURCE_DIR) +
                         "/tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
    o.forks.cu_table_path = std::string(FORKRUN_SOURCE_DIR) + "/fixtures/cu/alchemy-2026-11.json";
    o.blocks_dir = std::string(FORKRUN_SOURCE_DIR) + "/fixtures/blocks";
    auto env = env_flags();
    args.insert(args.begin(), env.begin(), env.end());
    // The config file first, whatever its place: flags and environment override it.
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "--config" && !load_config(args[i + 1], o)) {
            return std::nullopt;
        }
    }
    bool cors_from_flags = false;  // the first --cors-origin replaces the config file's list
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= args.size()) {
                std::cerr << "forkrun: " << a << " needs a value\n";
                return std::nullopt;
            }
            return args[++i];
        };
        auto number = [&](auto& dst) {
            auto v = value();
            if (!v || !parse_number(*v, dst)) {
                std::cerr << "forkrun: " << a << " needs a number\n";
                return false;
            }
            return true;
        };
        if (a == "--help" || a == "-h") {
            std::cout << usage();
            std::exit(0);
        } else if (a == "--listen") {
            auto v = value();
            if (!v) {
                return std::nullopt;
            }
            const auto colon = v->rfind(':');
            if (colon == std::string::npos || !parse_number(v->substr(colon + 1), o.port)) {
                std::cerr << "forkrun: --listen wants HOST:PORT\n";
                return std::nullopt;
            }
            o.host = v->substr(0, colon);
        } else if (a == "--tokens") {
            auto v = value();
            if (!v) {
                return std::nullopt;
            }
            o.tokens_file = *v;
        } else if (a == "--config") {
            ++i;  // read above
        } else if (a == "--anvil" || a == "--cu-table" || a == "--public-url") {
            auto v = value();
            if (!v) {
                return std::nullopt;
            }
            (a == "--anvil" ? o.forks.anvil_path
                            : (a == "--cu-table" ? o.forks.cu_table_path : o.public_url)) = *v;
        } else if (a == "--blocks-dir") {
            auto v = value();
            if (!v) {
                return std::nullopt;
            }
            o.blocks_dir = *v;
        } else if (a == "--devnet") {
            auto v = value();
            if (!v || !parse_chain_list(*v, o.forks.devnet)) {
                std::cerr << "forkrun: --devnet wants chain ids like 1,8453\n";
                return std::nullopt;
            }
        } else if (a == "--teardown-timeout-ms") {
            long ms = 0;
            if (!number(ms) || ms <= 0) {
                return std::nullopt;
            }
            o.forks.teardown_timeout = std::chrono::milliseconds(ms);
        } else if (a == "--fork-spawn-limit") {
            if (!number(o.forks.fork_spawn_limit) || o.forks.fork_spawn_limit == 0 ||
                o.forks.fork_spawn_limit > forks::kMaxForkSpawnLimit) {
                std::cerr << "forkrun: --fork-spawn-limit wants a number from 1 to "
                          << forks::kMaxForkSpawnLimit << "\n";
                return std::nullopt;
            }
        } else if (a == "--retain-runs") {
            if (!number(o.retain_runs)) {
                return std::nullopt;
            }
        } else if (a == "--max-connections") {
            if (!number(o.server.max_connections) || o.server.max_connections == 0) {
                std::cerr << "forkrun: --max-connections wants a positive number\n";
                return std::nullopt;
            }
        } else if (a == "--threads") {
            if (!number(o.threads) || o.threads == 0) {
                return std::nullopt;
            }
        } else if (a == "--body-limit") {
            if (!number(o.server.body_limit)) {
                return std::nullopt;
            }
        } else if (a == "--header-limit") {
            if (!number(o.server.header_limit)) {
                return std::nullopt;
            }
        } else if (a == "--read-timeout-ms" || a == "--idle-timeout-ms") {
            long ms = 0;
            if (!number(ms) || ms <= 0) {
                return std::nullopt;
            }
            (a == "--read-timeout-ms" ? o.server.read_timeout : o.server.idle_timeout) =
                std::chrono::milliseconds(ms);
        } else if (a == "--cors-origin") {
            auto v = value();
            if (!std::exchange(cors_from_flags, true)) {
                o.server.cors_origins.clear();
            }
            const auto why = v ? http::add_cors_origins(*v, o.server.cors_origins) : "";
            if (!v || !why.empty()) {
                std::cerr << (v ? "forkrun: --cors-origin: " + why + "\n" : "");
                return std::nullopt;
            }
        } else if (a == "--no-access-log") {
            o.server.access_log = false;
        } else if (auto limit = controller::apply_limit_flag(
                       a, i + 1 < args.size() ? std::string_view(args[i + 1]) : "", o.limits)) {
            ++i;
            if (!limit->empty()) {
                std::cerr << "forkrun: " << *limit << "\n";
                return std::nullopt;
            }
        } else {
            std::cerr << "forkrun: unknown option " << a << "\n" << usage();
            return std::nullopt;
        }
    }
    o.server.host = o.host;
    o.server.port = o.port;
    o.forks.max_unconfigured_chains = o.limits.unconfigured_chains;
    o.forks.unconfigured_pool_idle = std::chrono::milliseconds(o.limits.unconfigured_pool_idle_ms);
    return o;
}

int serve(const Options& o) {
    // glibc hands heap back to the kernel as soon as 128 KiB at its top are free, and serves
    // big blocks with mmap: a server that builds and frees the same answers all day then pays
    // page faults for every list it answers (list answers cost 3.6x the CPU with the defaults;
    // BENCHMARKS.md). Keep up to 32 MiB of free heap, and mmap only blocks of 4 MiB or more;
    // the execution thread gives free heap back every 10 s instead (below).
    ::mallopt(M_TRIM_THRESHOLD, 32 << 20);
    ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
    // Connections, forks' pipes and JSON-RPC sockets all take descriptors: use what the hard
    // limit allows (the default connection cap is derived from the result).
    if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    http::TokenStore tokens;
    std::optional<std::string> dev_token;
    if (o.tokens_file) {
        auto loaded = http::TokenStore::load_file(*o.tokens_file);
        if (!loaded) {
            std::cerr << "forkrun: " << loaded.error() << "\n";
            return 2;
        }
        tokens = std::move(*loaded);
    } else {
        dev_token = "dev_" + controller::random_token(24);
        tokens.add(*dev_token, {{"org_dev", "dev"}, http::kRunsRead | http::kRunsWrite});
    }
    auto cu = forks::CuTable::load_file(o.forks.cu_table_path);
    if (!cu) {
        std::cerr << "forkrun: " << cu.error().message << "\n";
        return 2;
    }

    // Access and transition lines, written in batches by a thread of its own. Declared first so
    // it outlives every thread that logs, and writes their last lines before the process ends.
    util::EventLog event_log;

    // One io_context per HTTP thread, run by that thread alone (concurrency hint 1), each with
    // its own acceptor: the threads share no reactor, and a connection stays on one thread. The
    // first context also runs the signal set and the shutdown sequence.
    std::vector<std::unique_ptr<asio::io_context>> http_iocs;
    std::vector<asio::io_context*> http_contexts;
    for (unsigned i = 0; i < o.threads; ++i) {
        http_iocs.push_back(std::make_unique<asio::io_context>(1));
        http_contexts.push_back(http_iocs.back().get());
    }
    asio::io_context& http_ioc = *http_contexts.front();
    asio::io_context exec_ioc(1);
    auto exec_guard = asio::make_work_guard(exec_ioc);
    // Runs, forks and their child processes live on this thread for the life of the process
    // (a fork dies with the thread that spawned it).
    std::thread exec_thread([&] { exec_ioc.run(); });
    struct JoinExec {
        asio::io_context& ioc;
        std::thread& t;
        ~JoinExec() {
            ioc.stop();
            t.join();
        }
    } join_exec{exec_ioc, exec_thread};

    // What the trim threshold above keeps, handed back every 10 s (free pages inside the heap
    // too): RSS follows the runs kept, not the busiest moment since start.
    asio::co_spawn(
        exec_ioc,
        []() -> asio::awaitable<void> {
            asio::steady_timer timer(co_await asio::this_coro::executor);
            for (;;) {
                timer.expires_after(std::chrono::seconds(10));
                co_await timer.async_wait(asio::use_awaitable);
                ::malloc_trim(0);
            }
        },
        asio::detached);
    forks::ForkManager fork_manager(exec_ioc.get_executor(), o.forks, std::move(*cu));
    auto started = asio::co_spawn(exec_ioc, fork_manager.start(), asio::use_future).get();
    if (!started) {
        std::cerr << "forkrun: " << started.error() << "\n";
        return 2;
    }
    controller::RpcGateway gateway(fork_manager.rpc(), fork_manager.cu());
    controller::ForkChainProvider provider(fork_manager, gateway, o.limits.sizes.node_output_bytes);
    controller::ControllerMetrics metrics;
    provider.set_metrics(&metrics);
    provider.set_simulation_report(o.simulation_report);
    std::vector<std::string> block_problems;
    const auto blocks = controller::BlockLibrary::load_dir(o.blocks_dir, block_problems);
    for (const auto& p : block_problems) {
        std::cerr << "forkrun: " << p << "\n";
    }
    if (!block_problems.empty()) {
        return 2;
    }
    controller::ControllerConfig ccfg;
    ccfg.blocks = &blocks;
    ccfg.retain_runs = o.retain_runs;
    ccfg.log = &event_log;
    ccfg.limits = o.limits;
    // A finished run keeps only its JSON (what GET and lists answer), not its state.
    ccfg.on_finished = [](controller::RunRecord& r) {
        r.compact(http::run_to_json, http::run_summary_to_json);
    };
    ccfg.event_formats.cancellation = http::cancellation_to_json;
    ccfg.enabled_types.insert(controller::NodeType::kBlock)
        .insert(controller::NodeType::kRpc)
        .insert(controller::NodeType::kCall)
        .insert(controller::NodeType::kSetBalance)
        .insert(controller::NodeType::kTransfer)
        .insert(controller::NodeType::kSendTransaction);
    controller::TransferSettings transfers;
    transfers.signers = &o.signers;
    transfers.dust_wei = o.dust_wei;
    transfers.simulation_report = o.simulation_report;
    ccfg.transfers = &transfers;
    ccfg.has_upstream = [&fork_manager](std::uint64_t chain) {
        return fork_manager.upstream(chain).has_value();
    };
    ccfg.chains = &provider;
    ccfg.metrics = &metrics;
    controller::Controller ctl(ccfg, exec_ioc.get_executor());
    http::ApiOptions api_options;
    api_options.controller_metrics = &metrics;
    http::Api api(ctl, tokens, api_options, &gateway);
    http::ServerConfig server_config = o.server;
    server_config.log = &event_log;
    http::Server server(http_contexts, api, server_config);

    asio::ip::tcp::endpoint ep;
    try {
        ep = server.start();
    } catch (const std::exception& e) {
        std::cerr << "forkrun: cannot listen on " << o.host << ":" << o.port << ": " << e.what()
                  << "\n";
        return 2;
    }
    const std::string base = "http://" + ep.address().to_string() + ":" + std::to_string(ep.port());
    gateway.set_base_url(o.public_url.empty() ? base : o.public_url);
    std::printf("forkrun %s listening on %s\n", FORKRUN_VERSION, base.c_str());
    for (const auto& [id, chain] : fork_manager.config().chains) {
        std::printf("chain %llu: %s, pool of %zu\n", static_cast<unsigned long long>(id),
                    chain.upstream_rpc_url
                        ? ("forks " + url_origin(*chain.upstream_rpc_url)).c_str()
                        : "fresh local chain",
                    chain.pool_size);
    }
    if (dev_token) {
        std::printf("dev token (organization org_dev, scopes runs:read runs:write): %s\n",
                    dev_token->c_str());
        std::printf("try: curl -s -H 'Authorization: Bearer %s' %s/v1/runs\n", dev_token->c_str(),
                    base.c_str());
    }
    std::fflush(stdout);

    // SIGINT/SIGTERM: stop accepting, cancel every live run (tearing its forks down), stop the
    // pools and devnets, let answers in flight finish, exit 0.
    asio::signal_set signals(http_ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) {
            return;
        }
        server.stop_accepting();
        std::thread([&event_log] {
            // A last resort if something refuses to end: forks die with us (PDEATHSIG).
            std::this_thread::sleep_for(std::chrono::milliseconds(9500));
            event_log.flush(std::chrono::milliseconds(200));
            std::fflush(stdout);
            std::_Exit(0);
        }).detach();
        asio::co_spawn(
            http_ioc,
            [&]() -> asio::awaitable<void> {
                co_await asio::co_spawn(exec_ioc, ctl.shutdown(), asio::use_awaitable);
                server.stop_streams();  // run streams have sent their `end` by now
                co_await asio::co_spawn(exec_ioc, fork_manager.shutdown(), asio::use_awaitable);
                asio::steady_timer t(http_ioc);
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
                while (server.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
                    t.expires_after(std::chrono::milliseconds(5));
                    co_await t.async_wait(asio::use_awaitable);
                }
                for (auto* c : http_contexts) {
                    c->stop();
                }
            },
            asio::detached);
    });

    // Every context runs until the shutdown sequence stops it, even with nothing to do (a
    // session may be waiting on the exec thread without Asio counting it as work).
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> http_work;
    for (auto* c : http_contexts) {
        http_work.push_back(asio::make_work_guard(*c));
    }
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < o.threads; ++i) {
        threads.emplace_back([c = http_contexts[i]] { c->run(); });
    }
    http_ioc.run();
    for (auto& t : threads) {
        t.join();
    }
    exec_guard.reset();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cout << usage();
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version" || args[0] == "version") {
        std::cout << "forkrun " << FORKRUN_VERSION << "\n";
        return 0;
    }
    if (args[0] != "serve") {
        std::cerr << "forkrun: unknown command " << args[0] << "\n" << usage();
        return 2;
    }
    auto opts = parse_serve(std::vector<std::string>(args.begin() + 1, args.end()));
    if (!opts) {
        return 2;
    }
    return serve(*opts);
}
