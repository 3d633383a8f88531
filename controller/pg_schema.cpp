// Migration 1: runs (the Run JSON with the columns lists and cursors filter on), settings (the
// list cursors' key), members for the controllers sharing the database. A new migration is
// appended, never edited.
#include "controller/pg_schema.hpp"

#include <array>

namespace forkrun::controller {

namespace {

constexpr std::string_view kRunsAndMembers = R"sql(
CREATE TABLE runs (
    id              text PRIMARY KEY,
    organization_id text NOT NULL,
    org_seq         bigint NOT NULL,
    status          text NOT NULL,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    is_simulation   boolean NOT NULL,
    is_dust_test    boolean NOT NULL,
    workflow_id     text NOT NULL,
    owner_id        text NOT NULL,
    run_json        json NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT runs_org_seq UNIQUE (organization_id, org_seq)
);
CREATE INDEX runs_org_status ON runs (organization_id, status, org_seq);
CREATE INDEX runs_org_workflow ON runs (organization_id, workflow_id, org_seq);
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_live ON runs (owner_id) WHERE status IN ('waiting', 'running');
CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE members (
    id           text PRIMARY KEY,
    base_url     text NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
)sql";

constexpr std::array kMigrations{
    PgMigration{1, kRunsAndMembers},
};

}  // namespace

std::span<const PgMigration> pg_migrations() {
    return kMigrations;
}

}  // namespace forkrun::controller
