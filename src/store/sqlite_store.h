// The Store on SQLite: one database file in WAL mode with synchronous=FULL,
// so a committed change survives a crash of the process or the machine. The
// schema carries its version (PRAGMA user_version) and Open() migrates an
// older file forward in one transaction; a newer file is refused. Safe to
// use from many threads: writes are serialised on one connection; reads run
// on a small pool of connections of their own (WAL readers never wait for
// the writer's sync), except for an in-memory store, which has one.
//
// Group commit (commit_queue.h): concurrent Commit() and AppendAudit() calls
// are gathered into one SQLite transaction, one sync for all of them. Every
// caller still returns only after its change is durable.
//
// One server uses the file: Shared() is false, leases are kept on this
// machine's clock and heartbeats in a table of their own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/commit_queue.h"
#include "store/store.h"

struct sqlite3;

namespace allot::store {

class SqliteStore final : public Store {
 public:
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 3;
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
  Result<int64_t> CommitFenced(const std::vector<Write>& writes, const Lease& fence) override;
  Result<std::vector<Change>> ChangesSince(int64_t revision, int64_t limit) override;
  Result<int64_t> Revision() override;
  int64_t WaitForChange(int64_t revision, std::chrono::milliseconds timeout) override;
  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(const AuditQuery& query) override;
  Result<Lease> AcquireLease(const std::string& name, const std::string& holder,
                             std::chrono::milliseconds ttl) override;
  Status ReleaseLease(const Lease& lease) override;
  Status RecordHeartbeat(const std::string& node, int64_t heard_ms) override;
  Result<std::map<std::string, int64_t>> Heartbeats() override;
  Status RecordServiceLoad(const ServiceLoad& load) override;
  Result<std::vector<ServiceLoad>> ServiceLoads() override;
  Result<std::vector<std::string>> Kinds() override;
  Status Restore(const std::vector<Object>& objects, const std::vector<AuditEntry>& audit,
                 int64_t revision) override;
  bool Shared() const override { return false; }

 private:
  // A connection to read on, held for one call: one of the pool, or the
  // writer's (under its lock) when there is no pool.
  class ReadLease;

  // Read connections per file store.
  static constexpr int kReaders = 4;

  explicit SqliteStore(sqlite3* db)
      : db_(db), commit_queue_([this](const CommitQueue::Group& group) { CommitGroup(group); }) {}
  Status Migrate();
  Status OpenReaders(const std::string& path);
  Result<int64_t> RevisionLocked();
  Status ReadPage(sqlite3* db, const std::string& sql, const ListQuery& query, Page& page);
  Result<std::vector<Change>> ReadChanges(sqlite3* db, int64_t revision, int64_t limit);
  // Runs one group in one transaction and sets every request's result.
  void CommitGroup(const CommitQueue::Group& group);
  // One caller's part of a group, in its savepoint.
  Result<int64_t> ApplyRequest(const CommitRequest& request, int64_t& revision);
  Result<bool> FenceHolds(const Lease& fence);
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

  CommitQueue commit_queue_;

  std::mutex revision_mutex_;  // watchers of the revision
  std::condition_variable revision_changed_;
  int64_t revision_ = 0;
};

}  // namespace allot::store
