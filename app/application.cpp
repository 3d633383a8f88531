// The process of `forkrun serve`: threads and io_contexts, the libraries wired together, the
// lines tools/run.sh and the tests read, and the drain on SIGINT/SIGTERM.
#include "app/application.hpp"

#include "app/durable_store.hpp"

#include <malloc.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.hpp"
#include "controller/fork_chains.hpp"
#include "controller/rpc_gateway.hpp"
#include "controller/run_ids.hpp"
#include "forks/fork_manager.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/fork_client.hpp"
#include "http/run_json.hpp"
#include "http/server.hpp"
#include "util/background_queue.hpp"
#include "util/event_log.hpp"

namespace forkrun::app {

namespace asio = boost::asio;

namespace {

// From the signal to the exit, whatever refuses to end (forks die with us: PDEATHSIG).
constexpr auto kShutdownBound = std::chrono::milliseconds(9500);
// Of that, how long answers still in flight once the forks are down may take.
constexpr auto kInFlightBound = std::chrono::seconds(5);

// jemalloc's control call, when the binary is linked with it (the service is; the test programs
// and the sanitizer build are not): a weak reference is null without it.
extern "C" int mallctl(const char* name, void* old, size_t* old_len, void* value, size_t len)
    __attribute__((weak));

void tune_process() {
    if (mallctl == nullptr) {
        // glibc hands heap back to the kernel as soon as 128 KiB at its top are free, and serves
        // big blocks with mmap: a server that builds and frees the same answers all day then
        // pays page faults for every list it answers (list answers cost 3.6x the CPU with the
        // defaults; BENCHMARKS.md). Keep up to 32 MiB of free heap, and mmap only blocks of
        // 4 MiB or more; the execution thread gives free heap back every 10 s instead
        // (trim_heap_forever). jemalloc keeps freed pages for 10 s by itself.
        ::mallopt(M_TRIM_THRESHOLD, 32 << 20);
        ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
    }
    // Connections, forks' pipes and JSON-RPC sockets all take descriptors: use what the hard
    // limit allows (the default connection cap is derived from the result).
    if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// Free heap handed back every 10 s: RSS follows the runs kept, not the busiest moment since
// start. glibc: what the trim threshold above keeps (free pages inside the heap too). jemalloc:
// the pages its 10 s decay has let go of, which it otherwise hands back only when it next
// allocates, so an idle server would keep its busiest moment's pages.
asio::awaitable<void> trim_heap_forever() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        timer.expires_after(std::chrono::seconds(10));
        co_await timer.async_wait(asio::use_awaitable);
        if (mallctl != nullptr) {
            mallctl("arena.4096.decay", nullptr, nullptr, nullptr, 0);  // 4096: every arena
        } else {
            ::malloc_trim(0);
        }
    }
}

struct Tokens {
    http::TokenStore store;
    std::optional<std::string> dev_token;  // made when no tokens file is given
};

std::optional<Tokens> load_tokens(const Config& o) {
    Tokens t;
    if (o.tokens_file) {
        auto loaded = http::TokenStore::load_file(*o.tokens_file);
        if (!loaded) {
            std::cerr << "forkrun: " << loaded.error() << "\n";
            return std::nullopt;
        }
        t.store = std::move(*loaded);
    } else {
        t.dev_token = "dev_" + controller::random_token(24);
        t.store.add(*t.dev_token, {{"org_dev", "dev"}, http::kRunsRead | http::kRunsWrite});
    }
    return t;
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

// The lines tools/run.sh and the tests read: the listen address, the chains, the dev token.
void print_banner(const std::string& base,
                  const forks::ForksConfig& forks,
                  const std::optional<std::string>& dev_token) {
    std::printf("forkrun %s listening on %s\n", FORKRUN_VERSION, base.c_str());
    for (const auto& [id, chain] : forks.chains) {
        std::string pinned;  // ", pinned pools: 19000000 (2)"
        for (const auto& [block, size] : chain.pinned_pools) {
            pinned += (pinned.empty() ? ", pinned pools: " : ", ") + std::to_string(block) + " (" +
                      std::to_string(size) + ")";
        }
        std::printf("chain %llu: %s, pool of %zu%s\n", static_cast<unsigned long long>(id),
                    chain.upstream_rpc_url
                        ? ("forks " + url_origin(*chain.upstream_rpc_url)).c_str()
                        : "fresh local chain",
                    chain.pool_size, pinned.c_str());
    }
    if (dev_token) {
        std::printf("dev token (organization org_dev, scopes runs:read runs:write): %s\n",
                    dev_token->c_str());
        std::printf("try: curl -s -H 'Authorization: Bearer %s' %s/v1/runs\n", dev_token->c_str(),
                    base.c_str());
    }
    std::fflush(stdout);
}

// The execution thread: runs, forks and their child processes live on it for the life of the
// process (a fork dies with the thread that spawned it). Joined when this goes.
struct ExecThread {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(ioc);
    std::thread thread{[this] { ioc.run(); }};
    ~ExecThread() {
        ioc.stop();
        thread.join();
    }
};

// What the drain stops, in its order.
struct Parts {
    asio::io_context& exec;
    controller::Controller& controller;
    http::Server& server;
    forks::ForkManager& forks;
};

// SIGINT/SIGTERM, once accepting has stopped: cancel every live run (tearing its forks down),
// end the streams (run streams have sent their `end` by now), stop the pools and devnets, then
// wait, without polling, until the answers in flight are written.
asio::awaitable<void> drain(Parts p) {
    co_await asio::co_spawn(p.exec, p.controller.shutdown(), asio::use_awaitable);
    p.server.stop_streams();
    co_await asio::co_spawn(p.exec, p.forks.shutdown(), asio::use_awaitable);
    co_await p.server.wait_idle(std::chrono::steady_clock::now() + kInFlightBound);
}

controller::ControllerConfig controller_config(const Config& o,
                                               const controller::BlockLibrary& blocks,
                                               util::EventLog& log,
                                               controller::ControllerMetrics& metrics,
                                               util::BackgroundQueue& compactions) {
    controller::ControllerConfig ccfg;
    ccfg.blocks = &blocks;
    ccfg.retain_runs = o.retain_runs;
    ccfg.log = &log;
    ccfg.limits = o.limits;
    // A finished run keeps only its JSON (what GET and lists answer), not its state; the
    // deflating is done by a low-priority thread, not on the path that finished the run.
    ccfg.on_finished = [&compactions](const std::shared_ptr<controller::RunRecord>& r) {
        compactions.post([r] {
            r->compact(http::run_to_json, http::run_summary_to_json, http::run_json_dictionary(),
                       http::cut_run_json);
        });
    };
    ccfg.enabled_types.insert(controller::NodeType::kBlock)
        .insert(controller::NodeType::kRpc)
        .insert(controller::NodeType::kCall)
        .insert(controller::NodeType::kSetBalance)
        .insert(controller::NodeType::kTransfer)
        .insert(controller::NodeType::kSendTransaction);
    ccfg.metrics = &metrics;
    return ccfg;
}

}  // namespace

int serve(const Config& o) {
    tune_process();
    auto tokens = load_tokens(o);
    if (!tokens) {
        return 2;
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
    // first context also runs the signal set and the drain.
    std::vector<std::unique_ptr<asio::io_context>> http_iocs;
    std::vector<asio::io_context*> http_contexts;
    for (unsigned i = 0; i < o.threads; ++i) {
        http_iocs.push_back(std::make_unique<asio::io_context>(1));
        http_contexts.push_back(http_iocs.back().get());
    }
    asio::io_context& http_ioc = *http_contexts.front();
    ExecThread exec;
    asio::co_spawn(exec.ioc, trim_heap_forever(), asio::detached);

    forks::ForkManager fork_manager(exec.ioc.get_executor(), o.forks, std::move(*cu));
    auto started = asio::co_spawn(exec.ioc, fork_manager.start(), asio::use_future).get();
    if (!started) {
        std::cerr << "forkrun: " << started.error().message << "\n";
        return 2;
    }
    // The gateway's HTTP bodies go to the forks from the HTTP thread that received them.
    http::ForkClient fork_client;
    controller::RpcGateway gateway(fork_manager.rpc(), fork_manager.cu());
    gateway.set_transport(&fork_client);
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
    // The durable store, read back before the controller serves a request; it outlives the
    // controller, whose last runs it writes when the drain has finished them.
    controller::StoredRuns stored;
    std::string store_error;
    auto durable = open_durable_store(o, stored, store_error);
    if (!durable && !store_error.empty()) {
        std::cerr << "forkrun: " << store_error << "\n";
        return 2;
    }
    // Before the controller: it posts compactions until it is gone.
    util::BackgroundQueue compactions;
    controller::ControllerConfig ccfg =
        controller_config(o, blocks, event_log, metrics, compactions);
    ccfg.durable = durable.get();
    if (durable) {
        // Shared by the controllers on the store (decisions 67 and 73).
        ccfg.idempotency_keys = durable->idempotency_keys();
        ccfg.nonces = durable->nonces();
        ccfg.shared_quotas = durable->quotas();
    }
    controller::TransferSettings transfers;
    transfers.signers = &o.signers;
    transfers.dust_wei = o.dust_wei;
    transfers.simulation_report = o.simulation_report;
    transfers.replace_after = o.replace_unmined_after;
    ccfg.transfers = &transfers;
    ccfg.has_upstream = [&fork_manager](std::uint64_t chain) {
        return fork_manager.upstream(chain).has_value();
    };
    ccfg.chains = &provider;
    controller::Controller ctl(ccfg, exec.ioc.get_executor());
    const std::string cursor_key = stored.cursor_key;
    if (durable) {
        if (const auto unreadable = restore_runs(ctl, std::move(stored)); unreadable > 0) {
            std::cerr << "forkrun: " << unreadable << " stored runs could not be read\n";
        }
    }
    http::ApiOptions api_options;
    if (durable) {
        // Other members' runs on this member's organization streams (decision 84).
        durable->relay_organization_events(
            [&ctl](const std::string& organization_id, controller::Event e) {
                ctl.organization_events(controller::Principal{organization_id, {}})
                    ->publish(std::move(e));
            });
        serve_remote_cancels(*durable, ctl, exec.ioc.get_executor());
        api_options.remote = durable->remote();
    }
    api_options.controller_metrics = &metrics;
    api_options.cursor_key = cursor_key;  // empty with the memory store: a random one
    http::Api api(ctl, tokens->store, api_options, &gateway);
    http::ServerConfig server_config = o.server;
    server_config.log = &event_log;
    http::Server server(http_contexts, api, server_config);

    asio::ip::tcp::endpoint ep;
    try {
        ep = server.start();
    } catch (const std::exception& e) {
        std::cerr << "forkrun: cannot listen on " << o.host << ":" << o.port << ": " << e.what()
                  << "\n";
        if (durable) {
            durable->stop_members();  // nothing reaches the controller after this
        }
        return 2;
    }
    const std::string base = "http://" + ep.address().to_string() + ":" + std::to_string(ep.port());
    gateway.set_base_url(o.public_url.empty() ? base : o.public_url);
    if (durable) {
        durable->set_base_url(o.public_url.empty() ? base : o.public_url);
    }
    print_banner(base, fork_manager.config(), tokens->dev_token);

    // SIGINT/SIGTERM: stop accepting, then drain under one deadline. If the deadline comes
    // first, the last resort: the event log's last lines, then exit 0 at once.
    asio::signal_set signals(http_ioc, SIGINT, SIGTERM);
    asio::steady_timer deadline(http_ioc);
    auto stop_all = [&http_contexts] {
        for (auto* c : http_contexts) {
            c->stop();
        }
    };
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) {
            return;
        }
        server.stop_accepting();
        deadline.expires_after(kShutdownBound);
        deadline.async_wait([&event_log](const boost::system::error_code& ec) {
            if (ec) {
                return;  // drained in time
            }
            event_log.flush(std::chrono::milliseconds(200));
            std::fflush(stdout);
            std::_Exit(0);
        });
        asio::co_spawn(http_ioc, drain({exec.ioc, ctl, server, fork_manager}),
                       [&](std::exception_ptr) {
                           deadline.cancel();
                           stop_all();
                       });
    });

    // Every context runs until the drain stops it, even with nothing to do (a session may be
    // waiting on the exec thread without Asio counting it as work).
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
    if (durable) {
        durable->stop_members();  // no cancel is handed to the controller after this
    }
    exec.guard.reset();
    return 0;
}

}  // namespace forkrun::app
