// GET /v1/runs/{id}'s long-poll parameters (waitUntil, timeoutMs), read from the query string
// with every problem listed; shared by runs in memory and runs read through the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "controller/field_error.hpp"

namespace forkrun::http {

struct LongPoll {
    /// Set: wait until the run is `terminal`, or `running` (or past it).
    std::optional<bool> want_terminal;
    std::int64_t timeout_ms = 30000;
};

/// The long-poll `query` asks for; its problems in `errors` (timeoutMs at most `max`).
LongPoll parse_long_poll(std::string_view query,
                         std::chrono::milliseconds max,
                         controller::FieldErrors& errors);

}  // namespace forkrun::http
