// A member's PostgreSQL store opened in the test's own process (its row in `members`, its
// epoch), for tests that drive the store's parts directly.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "controller/pg_store.hpp"
#include "http/pg_server.hpp"

namespace forkrun::http::test {

inline std::unique_ptr<controller::PgStore> open_pg_member(const PgServer& pg,
                                                           const std::string& id) {
    controller::PgStoreConfig cfg;
    cfg.url = pg.url();
    cfg.controller_id = id;
    cfg.writers = 1;
    auto store = std::make_unique<controller::PgStore>(std::move(cfg));
    auto opened = store->open();
    EXPECT_TRUE(opened) << (opened ? "" : opened.error());
    return opened ? std::move(store) : nullptr;
}

}  // namespace forkrun::http::test
