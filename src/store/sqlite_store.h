// The Store on SQLite: one database file in WAL mode with synchronous=FULL,
// so a committed change survives a crash of the process or the machine. The
// schema carries its version (PRAGMA user_version) and Open() migrates an
// older file forward in one transaction; a newer file is refused. Safe to
// use from many threads: writes are serialised on one connection; reads run
// on a small pool of connections of their own (WAL readers never wait for
// the writer's sync), except for an in-memory store, which has one.
//
// Group commit: concurrent Commit() and AppendAudit() calls are gathered
// into one SQLite transaction, one sync for all of them, each call in a
// savepoint of its own so that one caller's conflict fails only that call.
// Every caller still returns only after its change is durable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
  Result<int64_t> CommitAudited(const std::vector<Write>& writes, const AuditEntry& audit) override;
  Result<std::vector<Change>> ChangesSince(int64_t revision, int64_t limit) override;
  Result<int64_t> Revision() override;
  int64_t WaitForChange(int64_t revision, std::chrono::milliseconds timeout) override;
  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(const AuditQuery& query) override;

 private:
  // One caller's request to the group commit: writes, an audit entry, or
  // both (the entry recorded when the writes succeed).
  struct Request {
    const std::vector<Write>* writes = nullptr;
    const AuditEntry* audit = nullptr;
    Result<int64_t> result = int64_t{0};
    bool done = false;
  };

  // A connection to read on, held for one call: one of the pool, or the
  // writer's (under its lock) when there is no pool.
  class ReadLease;

  // Read connections per file store.
  static constexpr int kReaders = 4;

  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status Migrate();
  Status OpenReaders(const std::string& path);
  Result<int64_t> RevisionLocked();
  Status ReadPage(sqlite3* db, const std::string& sql, const ListQuery& query, Page& page);
  Result<std::vector<Change>> ReadChanges(sqlite3* db, int64_t revision, int64_t limit);
  // Queues the request and returns once a group holding it is committed;
  // the first caller to find no commit running leads the next group.
  Result<int64_t> Submit(Request& request);
  // Runs one group in one transaction and sets every request's result.
  void CommitGroup(const std::vector<Request*>& group);
  // Applies one caller's writes inside the open transaction; `revision` is
  // the store's revision before them and after them on success.
  Result<int64_t> ApplyLocked(const std::vector<Write>& writes, int64_t& revision);
  Status AppendAuditLocked(const AuditEntry& entry);

  std::mutex mutex_;  // the connection
  sqlite3* db_;

  std::mutex readers_mutex_;  // the read connections
  std::condition_variable reader_free_;
  std::vector<sqlite3*> readers_;
  std::vector<sqlite3*> idle_readers_;

  std::mutex group_mutex_;  // the requests waiting for the next group
  std::condition_variable group_done_;
  std::deque<Request*> waiting_;
  bool group_running_ = false;

  std::mutex revision_mutex_;  // watchers of the revision
  std::condition_variable revision_changed_;
  int64_t revision_ = 0;
};

}  // namespace allot::store
