// The request options that only a simulation has: forkBlockNumbers and keepForksOnFailure.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>

#include "controller/field_error.hpp"
#include "controller/run.hpp"

namespace forkrun::controller {

/// The longest keepForksOnFailure, in seconds.
inline constexpr std::uint32_t kMaxKeepForksSeconds = 3600;

/// Reads `forkBlockNumbers` and `keepForksOnFailure` of `body` into `run` (whose chains and
/// isSimulation are decided), or copies them from `source` when the request leaves them out.
/// A pinned chain must be one of the run's chains and have an upstream (`has_upstream`) to
/// fork; every problem goes to `errors` with its pointer.
void decode_simulation_options(const boost::json::object& body,
                               const std::optional<Run>& source,
                               const std::function<bool(std::uint64_t)>& has_upstream,
                               Run& run,
                               FieldErrors& errors);

}  // namespace forkrun::controller
