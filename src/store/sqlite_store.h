// The Store on SQLite: one database file in WAL mode with synchronous=FULL,
// so a committed change survives a crash of the process or the machine. The
// schema carries its version (PRAGMA user_version) and Open() migrates an
// older file forward in one transaction; a newer file is refused. Safe to
// use from many threads: calls are serialised on one connection.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"

struct sqlite3;

namespace allot::store {

class SqliteStore final : public Store {
 public:
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 1;
  // How many changes the log keeps for watchers; older ones are dropped.
  static constexpr int64_t kChangeLogLength = 100000;

  // Opens (creating if missing) the database at `path`; ":memory:" for a
  // private in-memory store in tests.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<Object> Get(const std::string& kind, const std::string& name) override;
  Result<Page> List(const ListQuery& query) override;
  Result<int64_t> Commit(const std::vector<Write>& writes) override;
  Result<std::vector<Change>> ChangesSince(int64_t revision, int64_t limit) override;
  Result<int64_t> Revision() override;
  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(const AuditQuery& query) override;

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status Migrate();
  Result<int64_t> RevisionLocked();

  std::mutex mutex_;
  sqlite3* db_;
};

}  // namespace allot::store
