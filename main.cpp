// forkrun: wires the http, controller and forks libraries into the `forkrun` executable.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller.hpp"
#include "controller/run_ids.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
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
  --anvil PATH            the anvil binary for simulation forks
  --no-access-log         do not log one line per request on stderr
  --help                  this text
)";

struct Options {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    std::optional<std::string> tokens_file;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    http::ServerConfig server;
    std::string anvil;
};

template <class T>
bool parse_number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

// Parses serve's flags; prints the problem and returns nothing on a bad one.
std::optional<Options> parse_serve(const std::vector<std::string>& args) {
    Options o;
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
            std::cout << kUsage;
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
        } else if (a == "--anvil") {
            auto v = value();
            if (!v) {
                return std::nullopt;
            }
            o.anvil = *v;
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
        } else if (a == "--no-access-log") {
            o.server.access_log = false;
        } else {
            std::cerr << "forkrun: unknown option " << a << "\n" << kUsage;
            return std::nullopt;
        }
    }
    o.server.host = o.host;
    o.server.port = o.port;
    return o;
}

int serve(const Options& o) {
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

    asio::io_context http_ioc(static_cast<int>(o.threads));
    asio::io_context exec_ioc(1);
    auto exec_guard = asio::make_work_guard(exec_ioc);

    controller::ControllerConfig ccfg;
    controller::Controller ctl(ccfg, exec_ioc.get_executor());
    http::Api api(ctl, tokens, {});
    http::Server server(http_ioc, api, o.server);

    asio::ip::tcp::endpoint ep;
    try {
        ep = server.start();
    } catch (const std::exception& e) {
        std::cerr << "forkrun: cannot listen on " << o.host << ":" << o.port << ": " << e.what()
                  << "\n";
        return 2;
    }
    const std::string base = "http://" + ep.address().to_string() + ":" + std::to_string(ep.port());
    std::printf("forkrun %s listening on %s\n", FORKRUN_VERSION, base.c_str());
    if (dev_token) {
        std::printf("dev token (organization org_dev, scopes runs:read runs:write): %s\n",
                    dev_token->c_str());
        std::printf("try: curl -s -H 'Authorization: Bearer %s' %s/v1/runs\n", dev_token->c_str(),
                    base.c_str());
    }
    std::fflush(stdout);

    // SIGINT/SIGTERM: stop accepting, cancel every live run, let answers finish, exit 0.
    asio::signal_set signals(http_ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) {
            return;
        }
        server.stop_accepting();
        std::thread([&] {
            // A last resort if something refuses to end: forks die with us (PDEATHSIG).
            std::this_thread::sleep_for(std::chrono::milliseconds(9500));
            std::fflush(stdout);
            std::_Exit(0);
        }).detach();
        asio::co_spawn(
            http_ioc,
            [&]() -> asio::awaitable<void> {
                co_await asio::co_spawn(exec_ioc, ctl.shutdown(), asio::use_awaitable);
                asio::steady_timer t(http_ioc);
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
                while (server.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
                    t.expires_after(std::chrono::milliseconds(5));
                    co_await t.async_wait(asio::use_awaitable);
                }
                exec_guard.reset();
                exec_ioc.stop();
                http_ioc.stop();
            },
            asio::detached);
    });

    std::thread exec_thread([&] { exec_ioc.run(); });
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < o.threads; ++i) {
        threads.emplace_back([&] { http_ioc.run(); });
    }
    http_ioc.run();
    for (auto& t : threads) {
        t.join();
    }
    exec_ioc.stop();
    exec_thread.join();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cout << kUsage;
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version" || args[0] == "version") {
        std::cout << "forkrun " << FORKRUN_VERSION << "\n";
        return 0;
    }
    if (args[0] != "serve") {
        std::cerr << "forkrun: unknown command " << args[0] << "\n" << kUsage;
        return 2;
    }
    auto opts = parse_serve({args.begin() + 1, args.end()});
    if (!opts) {
        return 2;
    }
    return serve(*opts);
}
