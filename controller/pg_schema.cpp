// Migration 1: runs (the Run JSON with the columns lists and cursors filter on), settings (the
// list cursors' key), members for the controllers sharing the database; migration 2: ownership
// (epochs) and cancels between members; migration 3: idempotency keys; migration 4: run events
// (the event streams served on every member). A new migration is
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

// Migration 2 (several controllers): a member's epoch, bumped each time it registers or is
// taken over (fencing), and its slot (the organization numbers it gives out are its slot
// modulo 64); the owner's epoch on each run, which every owner write must match; a
// cancel asked on another member (who and why), and the owner's answer to it.
constexpr std::string_view kOwnership = R"sql(
ALTER TABLE members ADD COLUMN epoch bigint NOT NULL DEFAULT 0,
                    ADD COLUMN slot integer UNIQUE;
ALTER TABLE runs ADD COLUMN owner_epoch bigint NOT NULL DEFAULT 0,
                 ADD COLUMN cancel_request json,
                 ADD COLUMN cancel_result text;
CREATE INDEX runs_cancel_asked ON runs (owner_id)
    WHERE cancel_request IS NOT NULL AND cancel_result IS NULL;
)sql";

// Migration 3: idempotency keys shared by the controllers (a key's claim, then the run it made).
constexpr std::string_view kIdempotencyKeys = R"sql(
CREATE TABLE idempotency_keys (
    organization_id text NOT NULL,
    key             text NOT NULL,
    digest          text NOT NULL,
    claimed_at      timestamptz NOT NULL,
    claimed_by      text NOT NULL,
    run_id          text,
    status          integer,
    PRIMARY KEY (organization_id, key)
);
)sql";

// Migration 4: each run's events as its owner's stream numbered them, written with the owner's
// batches, so any member serves the stream (replay, Last-Event-ID, live tail).
constexpr std::string_view kRunEvents = R"sql(
CREATE TABLE run_events (
    run_id text NOT NULL,
    seq    bigint NOT NULL,
    type   text NOT NULL,
    data   json NOT NULL,
    PRIMARY KEY (run_id, seq)
);
)sql";

constexpr std::array kMigrations{
    PgMigration{1, kRunsAndMembers},
    PgMigration{2, kOwnership},
    PgMigration{3, kIdempotencyKeys},
    PgMigration{4, kRunEvents},
};

}  // namespace

std::span<const PgMigration> pg_migrations() {
    return kMigrations;
}

}  // namespace forkrun::controller
