// RFC 3339 UTC timestamps with milliseconds, as the contract writes them.
#pragma once

#include <string>

#include <chrono>

namespace forkrun::util {

using Clock = std::chrono::system_clock;
using Timestamp = Clock::time_point;

/// e.g. 2026-11-28T08:34:53.123Z
std::string format_timestamp(Timestamp t);

}  // namespace forkrun::util
