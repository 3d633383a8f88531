// Following a run to its end: its event stream read (and resumed after the last event seen)
// until `end`, shown as events or a progress line, then the final run printed, a JUnit report
// written, and the exit code of its status.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "app/cli_http.hpp"

namespace forkrun::app {

/// What every runs command shares.
struct CliContext {
    ApiClient client;
    bool json = false;  ///< --json: the API's JSON instead of text
    bool tty = false;   ///< stdout is a terminal
};

/// How a wait shows a run's events.
enum class Show { kEvents, kProgress, kNothing };

struct WaitPlan {
    Show show = Show::kNothing;
    std::optional<std::chrono::steady_clock::time_point> deadline;
    std::optional<std::string> junit;  ///< where the report goes
};

/// The wait --timeout, --junit and --follow ask for (events with --follow; else nothing with
/// --json, a progress line on a terminal, events otherwise); nullopt, with the message on
/// stderr, when `timeout` is not a positive number of seconds.
std::optional<WaitPlan> wait_plan(const CliContext& ctx,
                                  const std::optional<std::string>& timeout,
                                  std::optional<std::string> junit,
                                  bool follow);

/// The run's status (empty when it has none).
std::string status_of(const boost::json::object& run);

/// A run on stdout: its JSON with --json, else the text of print_run.
void print_one(const CliContext& ctx, const boost::json::object& run);

/// Follows the run `first` (as created or read) until it ends or the plan's deadline passes;
/// the exit code: the run's status's, kExitTimeout at the deadline, kExitUsage on an error.
int wait_for_end(const CliContext& ctx, const boost::json::object& first, const WaitPlan& plan);

}  // namespace forkrun::app
