// The Store on PostgreSQL (Debian's 15, through libpq), for a control plane
// of several servers (docs/high-availability.md). Every server opens the
// same database; the store's revision is one row that each commit locks, so
// commits of all servers are serialised and revisions, the change log and
// watches mean what they mean on SQLite. A commit NOTIFYs the revision, and
// every server LISTENs, so a watcher on any server wakes for a change made
// through any other.
//
// Connections: one writer (group commit, commit_queue.h: one transaction
// and one WAL flush for all the callers that queued meanwhile), a pool of
// readers, one listener. A lost connection fails the calls in flight with
// "unavailable" and is opened again by the next call: a restart of
// PostgreSQL costs the calls during it, never an acknowledged change.
//
// Leases live in a table and expire on the database's clock, so the
// servers' clocks need not agree. A fenced commit locks the lease row
// (FOR SHARE) while it checks the holder and epoch, so a takeover waits for
// it or fences it: a deposed leader's plan is refused whole.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/commit_queue.h"
#include "store/object_cache.h"
#include "store/pg_connection.h"
#include "store/store.h"

namespace allot::store {

class PostgresStore final : public Store {
 public:
  static constexpr int64_t kChangeLogLength = 100000;

  // Connects to `conninfo` (postgresql://...; connect and keepalive timeouts
  // are added when it has none), migrates the schema forward, and starts
  // listening for other servers' changes. A database of a newer allot is
  // refused.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& conninfo);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

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
  bool Shared() const override { return true; }

 private:
  static constexpr int kReaders = 4;
  class ReadLease;

  explicit PostgresStore(std::string conninfo)
      : conninfo_(std::move(conninfo)),
        commit_queue_([this](const CommitQueue::Group& group) { CommitGroup(group); }) {}
  Status Migrate();
  // Runs `read` on a pooled reader, once more on a fresh connection when
  // the first one had broken.
  template <typename T, typename Read>
  Result<T> OnReader(Read read);
  void CommitGroup(const CommitQueue::Group& group);
  Status RunGroup(const CommitQueue::Group& group, int64_t& revision);
  Result<int64_t> ApplyRequest(const CommitRequest& request, int64_t& revision);
  Status AppendAuditOn(PgConnection& db, const AuditEntry& entry);
  void Published(int64_t revision);
  void Listen();
  // The NOTIFY of a group: its revision, then a line "kind<TAB>name" for
  // each cached object it wrote ("*": too many, clear them all).
  std::string NotifyPayload(const CommitQueue::Group& group, int64_t revision) const;
  // Another server's NOTIFY: the revision it reached, and the evictions.
  void Heard(const std::string& payload);
  void EvictWritten(const CommitQueue::Group& group);

  std::string conninfo_;
  std::mutex writer_mutex_;
  std::unique_ptr<PgConnection> writer_;
  CommitQueue commit_queue_;

  std::mutex readers_mutex_;
  std::condition_variable reader_free_;
  std::vector<std::unique_ptr<PgConnection>> readers_;
  std::vector<PgConnection*> idle_readers_;

  std::mutex revision_mutex_;
  std::condition_variable revision_changed_;
  int64_t revision_ = 0;

  // Tokens, users, projects and departments, read on every API call
  // (store/object_cache.h); kept while the listener hears the others.
  ObjectCache cache_{{"tokens", "users", "projects", "departments"}};

  std::atomic<bool> stopping_{false};
  std::thread listener_;
};

}  // namespace allot::store
