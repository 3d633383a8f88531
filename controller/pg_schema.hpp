// The PostgreSQL schema as numbered, forward-only migrations compiled into the binary.
#pragma once

#include <span>
#include <string_view>

namespace forkrun::controller {

struct PgMigration {
    int version;
    std::string_view sql;  // one or more statements, applied in the migration's transaction
};

/// Every migration, in order of version (1, 2, ...).
std::span<const PgMigration> pg_migrations();

}  // namespace forkrun::controller
