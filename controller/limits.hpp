// The configurable limits of a server (quotas, chains per run, sizes): defaults, config keys,
// flags, and the measure of a JSON value that the size limits use.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forkrun::controller {

/// Sizes of what a run builds and keeps, in bytes of compact JSON.
struct SizeLimits {
    /// A string built from text and templates (`"a{{props.x}}b"`).
    std::size_t template_string_bytes = 64 * 1024;
    /// A node's stored output, and its props once resolved.
    std::size_t node_output_bytes = 1024 * 1024;
    /// A run's stored JSON: request, node outputs and resolved props of nodes in flight.
    std::size_t run_json_bytes = 16 * 1024 * 1024;
};

/// Every limit `forkrun serve` takes from its config file and flags, with the defaults.
struct Limits {
    std::size_t active_runs_per_org = 1024;  ///< non-terminal runs of one organization
    std::size_t active_runs = 2048;          ///< non-terminal runs of the server
    std::size_t live_forks_per_org = 16;     ///< fork-mode anvils and pool leases of one org
    std::size_t live_forks = 64;             ///< the same, server-wide
    std::size_t chains_per_run = 16;
    /// Distinct chains the configuration does not list that have a warm pool at once.
    std::size_t unconfigured_chains = 4;
    /// A pool of an unconfigured chain no run has held this long is stopped.
    std::size_t unconfigured_pool_idle_ms = 60000;
    SizeLimits sizes;
};

/// The config key of each limit, as messages name them.
inline constexpr std::string_view kMaxActiveRunsPerOrg = "maxActiveRunsPerOrg";
inline constexpr std::string_view kMaxActiveRuns = "maxActiveRuns";
inline constexpr std::string_view kMaxLiveForksPerOrg = "maxLiveForksPerOrg";
inline constexpr std::string_view kMaxLiveForks = "maxLiveForks";
inline constexpr std::string_view kMaxChainsPerRun = "maxChainsPerRun";
inline constexpr std::string_view kMaxUnconfiguredChains = "maxUnconfiguredChains";
inline constexpr std::string_view kUnconfiguredPoolIdleMs = "unconfiguredPoolIdleMs";
inline constexpr std::string_view kMaxTemplateStringBytes = "maxTemplateStringBytes";
inline constexpr std::string_view kMaxNodeOutputBytes = "maxNodeOutputBytes";
inline constexpr std::string_view kMaxRunJsonBytes = "maxRunJsonBytes";

/// Reads the limit keys of a config file; every problem is listed. Other keys are left alone.
void read_limits_config(const boost::json::value& doc,
                        Limits& out,
                        std::vector<std::string>& problems);

/// The flags of the limits (`--max-active-runs-per-org`, ...), without their dashes.
std::vector<std::string_view> limit_flags();

/// Applies `--<flag> value` when `flag` is a limit's: nullopt when it is not one, else an empty
/// string on success or the problem.
std::optional<std::string> apply_limit_flag(std::string_view flag,
                                            std::string_view value,
                                            Limits& out);

/// What a limit flag (without its dashes) bounds, with its default and config key, as `--help`
/// says it; empty when `flag` is not a limit's.
std::string limit_flag_help(std::string_view flag);

/// The `--help` lines of the limit flags.
std::string limits_usage();

/// About the size of `v` as compact JSON (string escapes are not counted), but it stops
/// counting soon after passing `stop_after`: the answer is then some number above it. Never
/// recurses, and costs at most about `stop_after` steps however big `v` is.
std::size_t json_size(const boost::json::value& v, std::size_t stop_after);
std::size_t json_size(const boost::json::object& o, std::size_t stop_after);

/// "64 KiB", "1 MiB", "1500 bytes".
std::string describe_bytes(std::size_t bytes);

/// The message of a `tooLarge` failure: "<what> is larger than the <size> limit (<key>)".
std::string too_large(std::string_view what, std::size_t limit, std::string_view key);

}  // namespace forkrun::controller
