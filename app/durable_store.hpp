// The durable store of `forkrun serve --store postgresql://...`: opened, migrated and read back
// before the server listens.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "app/config.hpp"
#include "controller/controller.hpp"
#include "controller/pg_store.hpp"

namespace forkrun::app {

/// The store `o.store` names, opened (its leftover runs finished as controllerLost) with its
/// runs in `runs`; null for the memory store, or when it cannot open (`error` says why).
std::unique_ptr<controller::PgStore> open_durable_store(const Config& o,
                                                        controller::StoredRuns& runs,
                                                        std::string& error);

/// Puts the runs read back into the controller's memory store; the error counts runs whose
/// stored JSON could not be read (they are skipped).
std::size_t restore_runs(controller::Controller& ctl, controller::StoredRuns runs);

/// Starts the store's member thread: a cancel another controller records for a run `ctl`
/// owns is carried out here (on `exec`) and answered in the run's row.
void serve_remote_cancels(controller::PgStore& store,
                          controller::Controller& ctl,
                          boost::asio::any_io_executor exec);

}  // namespace forkrun::app
