// `forkrun serve`: the http, controller and forks libraries wired into one server process.
#pragma once

#include "app/config.hpp"

namespace forkrun::app {

/// Serves with `config` until SIGINT or SIGTERM, then drains (stop accepting, cancel the runs,
/// stop streams and forks, let answers in flight finish) within 9.5 s. The exit code: 0, or 2
/// when something the config names cannot be loaded or the address cannot be listened on.
int serve(const Config& config);

}  // namespace forkrun::app
