// The configuration of `forkrun serve`: one validated struct, parsed once from the command line,
// the environment (FORKRUN_<FLAG>) and the JSON config file, in that order of precedence.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "controller/limits.hpp"
#include "controller/run_store.hpp"
#include "controller/signers.hpp"
#include "forks/eth/uint256.hpp"
#include "forks/forks_config.hpp"
#include "http/server.hpp"

namespace forkrun::app {

struct Config {
    std::string host = "127.0.0.1";
    unsigned short port = 8080;
    /// Without it a dev token for org_dev is made and printed.
    std::optional<std::string> tokens_file;
    /// HTTP threads; the default is the number of cores.
    unsigned threads = 1;
    /// host and port are the ones above.
    http::ServerConfig server;
    /// max_unconfigured_chains and unconfigured_pool_idle are the limits' below.
    forks::ForksConfig forks;
    /// Base of the rpcUrls handed out; empty: the listen address.
    std::string public_url;
    controller::Signers signers;
    eth::Uint256 dust_wei{1000};
    /// The simulation report of transaction nodes and forks (config key simulationReport).
    bool simulation_report = true;
    /// A live transaction unmined this long is replaced with higher fees (config key
    /// replaceUnminedAfterMs; 0: never).
    std::chrono::milliseconds replace_unmined_after{30000};
    std::string blocks_dir;
    std::size_t retain_runs = controller::RunStore::kDefaultRetain;
    controller::Limits limits;
    /// "memory" (the default), or a postgresql:// URL of the durable store (config key store).
    std::string store = "memory";
    /// This controller's id in the durable store (default: the host name).
    std::string controller_id;
    /// With a durable store: a controller silent longer than this has its live runs finished
    /// by another as controllerLost (--lease-ms, config key leaseMs).
    std::chrono::milliseconds lease{10000};
    /// With a durable store: finished runs created more than this long ago are deleted from it,
    /// with their events and idempotency keys (--store-retention-ms, config key
    /// storeRetentionMs; zero keeps every run).
    std::chrono::milliseconds store_retention{std::chrono::hours(24 * 30)};
};

/// The defaults, before any flag, variable or config file: paths under the source tree.
Config default_config();

/// What parsing `serve`'s arguments gives: a Config to serve with, or what to print and the exit
/// code (0 after --help, 2 for a bad flag, value or config file).
struct ParseResult {
    std::optional<Config> config;
    int exit_code = 0;
    /// For stdout: the usage, after --help.
    std::string out;
    /// For stderr: one "forkrun: ..." line per problem, each naming its flag or config key.
    std::string err;
};

/// Parses the arguments after `serve`, with the FORKRUN_<FLAG> variables of the environment and
/// the --config file. Never exits.
ParseResult parse_serve(const std::vector<std::string>& args);

/// The whole `--help` text: commands, every flag of serve, and the environment rule.
std::string usage();

}  // namespace forkrun::app
