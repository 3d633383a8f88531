// Wiring the PostgreSQL store: the wire layer's JSON in and out, the controller's id.
#include "app/durable_store.hpp"

#include <unistd.h>

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "http/run_json.hpp"
#include "http/run_restore.hpp"

namespace forkrun::app {

namespace {

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
        return "forkrun";
    }
    return name;
}

}  // namespace

std::unique_ptr<controller::PgStore> open_durable_store(const Config& o,
                                                        controller::StoredRuns& runs,
                                                        std::string& error) {
    if (o.store == "memory") {
        return nullptr;
    }
    controller::PgStoreConfig cfg;
    cfg.url = o.store;
    cfg.controller_id = o.controller_id.empty() ? host_name() : o.controller_id;
    cfg.full_json = [](const controller::RunRecord& r) {
        return http::run_json(r, controller::RunView::kFull);
    };
    cfg.lost_json = http::lost_run_json;
    cfg.load_limit = o.retain_runs;
    cfg.lease = o.lease;
    cfg.retention = o.store_retention;
    cfg.heartbeat =
        std::clamp(o.lease / 4, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
    auto store = std::make_unique<controller::PgStore>(std::move(cfg));
    auto opened = store->open();
    if (!opened) {
        error = opened.error();
        return nullptr;
    }
    runs = std::move(*opened);
    return store;
}

std::size_t restore_runs(controller::Controller& ctl, controller::StoredRuns runs) {
    std::vector<controller::RestoredRun> restored;
    restored.reserve(runs.runs.size());
    std::size_t unreadable = 0;
    for (const auto& r : runs.runs) {
        if (auto one = http::restore_run(r)) {
            restored.push_back(std::move(*one));
        } else {
            ++unreadable;
        }
    }
    ctl.restore(std::move(restored), runs.org_last_seq, runs.org_seq_stride, runs.org_seq_slot);
    return unreadable;
}

void serve_remote_cancels(controller::PgStore& store,
                          controller::Controller& ctl,
                          boost::asio::any_io_executor exec) {
    namespace asio = boost::asio;
    store.start_members([&store, &ctl, exec](controller::CancelAsk ask) {
        asio::co_spawn(
            exec,
            [&store, &ctl, ask = std::move(ask)]() -> asio::awaitable<void> {
                // A named principal: GCC 12 destroys an aggregate temporary in a co_await twice.
                const controller::Principal who{ask.organization_id, ask.subject};
                auto result = co_await ctl.cancel(who, ask.run_id, ask.reason);
                using controller::CancelOutcome;
                store.answer_cancel(ask.run_id,
                                    result.outcome == CancelOutcome::kCancelled   ? "cancelled"
                                    : result.outcome == CancelOutcome::kNotStored ? "unstored"
                                                                                  : "conflict");
            },
            asio::detached);
    });
}

}  // namespace forkrun::app
