// `forkrun runs ...`: the command-line client of a running server (create, get, list, cancel,
// watch), over libcurl.
#pragma once

#include <string>
#include <vector>

namespace forkrun::app {

/// Exit codes of the client commands.
inline constexpr int kExitOk = 0;         ///< the run succeeded, or the command did
inline constexpr int kExitFailed = 1;     ///< the run failed
inline constexpr int kExitUsage = 2;      ///< a usage or HTTP error
inline constexpr int kExitCancelled = 3;  ///< the run was cancelled
inline constexpr int kExitTimeout = 4;    ///< --timeout passed before the run ended

/// Runs `forkrun runs <args>`, printing on stdout and stderr; the exit code.
int runs_command(const std::vector<std::string>& args);

/// The text of `forkrun runs --help`.
std::string runs_usage();

}  // namespace forkrun::app
