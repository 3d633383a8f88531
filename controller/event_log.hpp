// One JSON line per event on stderr: request logs and run transitions share this writer.
#pragma once

#include <string_view>

namespace forkrun::controller {

/// Writes `json_line` and a newline to stderr in one write(2), so concurrent lines never mix.
void write_log_line(std::string_view json_line);

}  // namespace forkrun::controller
