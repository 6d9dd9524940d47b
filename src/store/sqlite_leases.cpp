// The SQLite store's leases, heartbeats, kinds and restore (sqlite_store.h).
#include "store/sqlite_store.h"
#include "store/sqlite_support.h"

namespace allot::store {

using namespace sqlite;  // NOLINT: this module's own helpers

Result<Lease> SqliteStore::AcquireLease(const std::string& name, const std::string& holder,
                                        std::chrono::milliseconds ttl) {
  std::lock_guard lock(mutex_);
  int64_t now = WallMs();
  Statement q(db_,
              "INSERT INTO leases (name, holder, epoch, expires_ms) VALUES (?1, ?2, 1, ?3)"
              " ON CONFLICT (name) DO UPDATE SET"
              "  epoch = CASE WHEN holder = excluded.holder THEN epoch ELSE epoch + 1 END,"
              "  holder = excluded.holder, expires_ms = excluded.expires_ms"
              " WHERE holder = excluded.holder OR expires_ms <= ?4"
              " RETURNING epoch");
  if (!q.ok()) return SqlError(db_, "lease");
  q.Bind(1, name);
  q.Bind(2, holder);
  q.Bind(3, now + ttl.count());
  q.Bind(4, now);
  int rc = q.Step();
  if (rc == SQLITE_ROW) return Lease{name, holder, q.Int(0)};
  if (rc != SQLITE_DONE) return SqlError(db_, "lease");
  Statement who(db_, "SELECT holder FROM leases WHERE name = ?1");
  who.Bind(1, name);
  std::string current = who.Step() == SQLITE_ROW ? who.Text(0) : "another server";
  return Error::Coded("held", "store: the lease '" + name + "' is held by '" + current + "'",
                      "lease");
}

Status SqliteStore::ReleaseLease(const Lease& lease) {
  std::lock_guard lock(mutex_);
  Statement q(db_,
              "UPDATE leases SET expires_ms = 0 WHERE name = ?1 AND holder = ?2 AND epoch = ?3");
  if (!q.ok()) return SqlError(db_, "lease");
  q.Bind(1, lease.name);
  q.Bind(2, lease.holder);
  q.Bind(3, lease.epoch);
  if (q.Step() != SQLITE_DONE) return SqlError(db_, "lease");
  return Status::Ok();
}

Status SqliteStore::RecordHeartbeat(const std::string& node, int64_t heard_ms) {
  std::lock_guard lock(mutex_);
  Statement q(db_,
              "INSERT INTO heartbeats (node, heard_ms) VALUES (?1, ?2) ON CONFLICT (node)"
              " DO UPDATE SET heard_ms = MAX(heard_ms, excluded.heard_ms)");
  if (!q.ok()) return SqlError(db_, "heartbeat");
  q.Bind(1, node);
  q.Bind(2, heard_ms);
  if (q.Step() != SQLITE_DONE) return SqlError(db_, "heartbeat");
  return Status::Ok();
}

Result<std::map<std::string, int64_t>> SqliteStore::Heartbeats() {
  std::lock_guard lock(mutex_);  // rare calls: on the writer's connection
  Statement q(db_, "SELECT node, heard_ms FROM heartbeats");
  if (!q.ok()) return SqlError(db_, "heartbeats");
  std::map<std::string, int64_t> heard;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) heard[q.Text(0)] = q.Int(1);
  if (rc != SQLITE_DONE) return SqlError(db_, "heartbeats");
  return heard;
}

Status SqliteStore::RecordServiceLoad(const ServiceLoad& load) {
  std::lock_guard lock(mutex_);
  Statement q(db_,
              "INSERT INTO service_loads (server, service, body, at_ms) VALUES (?1, ?2, ?3, ?4)"
              " ON CONFLICT (server, service) DO UPDATE SET body = excluded.body,"
              " at_ms = excluded.at_ms");
  if (!q.ok()) return SqlError(db_, "service load");
  q.Bind(1, load.server);
  q.Bind(2, load.service);
  q.Bind(3, load.body);
  q.Bind(4, load.at_ms);
  if (q.Step() != SQLITE_DONE) return SqlError(db_, "service load");
  return Status::Ok();
}

Result<std::vector<ServiceLoad>> SqliteStore::ServiceLoads() {
  std::lock_guard lock(mutex_);
  Statement q(db_, "SELECT server, service, body, at_ms FROM service_loads");
  if (!q.ok()) return SqlError(db_, "service loads");
  std::vector<ServiceLoad> loads;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW)
    loads.push_back({q.Text(0), q.Text(1), q.Text(2), q.Int(3)});
  if (rc != SQLITE_DONE) return SqlError(db_, "service loads");
  return loads;
}

Result<std::vector<std::string>> SqliteStore::Kinds() {
  std::lock_guard lock(mutex_);  // rare calls: on the writer's connection
  Statement q(db_, "SELECT DISTINCT kind FROM objects ORDER BY kind");
  if (!q.ok()) return SqlError(db_, "kinds");
  std::vector<std::string> kinds;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) kinds.push_back(q.Text(0));
  if (rc != SQLITE_DONE) return SqlError(db_, "kinds");
  return kinds;
}

Status SqliteStore::Restore(const std::vector<Object>& objects,
                            const std::vector<AuditEntry>& audit, int64_t revision) {
  std::lock_guard lock(mutex_);
  Statement count(db_, "SELECT (SELECT count(*) FROM objects) + (SELECT count(*) FROM audit)");
  if (!count.ok() || count.Step() != SQLITE_ROW) return SqlError(db_, "restore");
  if (count.Int(0) != 0) {
    return Error::Coded("invalid", "store: the target store is not empty: copy into a new one",
                        "store");
  }
  Transaction tx(db_);
  if (Status status = tx.Begin(); !status) return status;
  for (const Object& object : objects) {
    Statement put(db_,
                  "INSERT INTO objects (kind, name, revision, created_revision, body)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)");
    put.Bind(1, object.kind);
    put.Bind(2, object.name);
    put.Bind(3, object.revision);
    put.Bind(4, object.created_revision);
    put.Bind(5, object.body);
    if (put.Step() != SQLITE_DONE) return SqlError(db_, "restore");
  }
  for (const AuditEntry& entry : audit) {
    if (Status appended = AppendAuditLocked(entry); !appended) return appended;
  }
  Statement bump(db_, "UPDATE meta SET value = ?1 WHERE key = 'revision'");
  bump.Bind(1, revision);
  if (bump.Step() != SQLITE_DONE) return SqlError(db_, "restore");
  if (Status status = tx.Commit(); !status) return status;
  std::lock_guard watch(revision_mutex_);
  revision_ = revision;
  revision_changed_.notify_all();
  return Status::Ok();
}

}  // namespace allot::store
