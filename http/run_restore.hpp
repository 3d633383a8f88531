// Runs read back from a durable store: the Run JSON run_json wrote, turned back into what the
// controller's memory store indexes, and the JSON of a run whose controller was lost.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controller/controller.hpp"
#include "controller/durable_store.hpp"

namespace forkrun::http {

/// The stored run as a compacted, terminal record's parts; nullopt when its JSON is not a Run.
std::optional<controller::RestoredRun> restore_run(const controller::StoredRun& stored);

/// A run that was `waiting` or `running` when its controller went away: `failure` with
/// executionState.error `controllerLost`, finishedAt `now`, nodes still in progress `failure`,
/// pending ones `skipped`, forks not yet released `failed`; totalCu as recorded.
std::string lost_run_json(std::string_view json, controller::Timestamp now);

}  // namespace forkrun::http
