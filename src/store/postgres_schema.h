// The PostgreSQL store's schema: one migration per version, applied in
// order by PostgresStore::Open under an advisory lock, so that two servers
// starting at once migrate a database once.
#pragma once

#include <array>

namespace allot::store {

inline constexpr int kPostgresSchemaVersion = 2;

// Index i takes a database from version i to i + 1.
extern const std::array<const char*, kPostgresSchemaVersion> kPostgresMigrations;

}  // namespace allot::store
