// The PostgreSQL schema as numbered, forward-only migrations compiled into the binary.
#pragma once

#include <span>
#include <string_view>

namespace forkrun::controller {

/// Appends `run` (failure) and `end` to each live run of $1 (a text[], pg_text_array) at $2 (the
/// finish time as the events write it), before they are finished as controllerLost in the same
/// transaction (migration 8, decision 84).
inline constexpr const char* kAppendLostEvents = "SELECT forkrun_lost_events($1::text[], $2)";

struct PgMigration {
    int version;
    std::string_view sql;  // one or more statements, applied in the migration's transaction
};

/// Every migration, in order of version (1, 2, ...).
std::span<const PgMigration> pg_migrations();

}  // namespace forkrun::controller
