// The JSON config file of `forkrun serve` (--config FILE): what it sets of a Config.
#pragma once

#include <string>

#include "app/config.hpp"

namespace forkrun::app {

/// Reads the config file at `path` into `out` (keys it does not have are left alone). False when
/// it cannot be read, is not JSON or has problems; then `err` has one "forkrun: ..." line for
/// each, all of them listed.
bool load_config_file(const std::string& path, Config& out, std::string& err);

}  // namespace forkrun::app
