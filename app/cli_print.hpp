// What the client commands print: a run, a list of runs, an event, the live progress line,
// and an HTTP error with every problem the server listed.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <ostream>
#include <string>

#include "app/cli_http.hpp"

namespace forkrun::app {

/// A run as readable text: status, workflow, times, CU, each node, the error and cancellation.
void print_run(std::ostream& out, const boost::json::object& run);

/// GET /v1/runs's data as a table, newest first.
void print_runs(std::ostream& out, const boost::json::object& page);

/// One line for an event of a run's stream: "[id] type what-changed".
std::string event_line(const SseEvent& e);

/// The live progress line of a run, redrawn from its events on a terminal.
class Progress {
  public:
    /// `run`: the Run as first read (its nodes give the total).
    explicit Progress(const boost::json::object& run);
    /// Applies an event; false when it changed nothing shown.
    bool apply(const SseEvent& e);
    /// The line, without its end (carriage return and erase-line first).
    std::string line() const;

  private:
    std::string id_;
    std::string status_;
    std::map<std::string, std::string> nodes_;
    std::string cu_ = "0";
};

/// Writes "forkrun: WHAT: HTTP <status>: <message>" and each of data.errors on its own line, or
/// that the server could not be reached. Returns 2, the exit code of an HTTP error.
int report_http_error(std::ostream& err,
                      const std::string& what,
                      const std::string& server,
                      const ClientResponse& r);

}  // namespace forkrun::app
