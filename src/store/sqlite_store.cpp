#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <vector>

#include "store/sqlite_support.h"
#include "store/write_check.h"

namespace allot::store {
namespace {

using namespace sqlite;  // NOLINT: this module's own helpers

// One migration per schema version: the statements that take a database
// from version i to i + 1 (index i).
constexpr std::array<const char*, SqliteStore::kSchemaVersion> kMigrations = {
    // 0 -> 1: objects, their change log, the audit log.
    "CREATE TABLE objects ("
    "  kind TEXT NOT NULL, name TEXT NOT NULL, revision INTEGER NOT NULL,"
    "  created_revision INTEGER NOT NULL, body TEXT NOT NULL,"
    "  PRIMARY KEY (kind, name)) WITHOUT ROWID;"
    "CREATE TABLE changes ("
    "  revision INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,"
    "  deleted INTEGER NOT NULL, body TEXT NOT NULL);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
    "  source TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,"
    "  allowed INTEGER NOT NULL, status INTEGER NOT NULL, detail TEXT NOT NULL);"
    "CREATE INDEX audit_actor ON audit (actor, id);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "INSERT INTO meta VALUES ('revision', 0);",
    // 1 -> 2: leases and the agents' heartbeats.
    "CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
    "  epoch INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
    "CREATE TABLE heartbeats (node TEXT PRIMARY KEY, heard_ms INTEGER NOT NULL);",
    // 2 -> 3: the servers' service loads.
    "CREATE TABLE service_loads (server TEXT NOT NULL, service TEXT NOT NULL,"
    "  body TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY (server, service));",
};

Result<int64_t> RevisionOn(sqlite3* db) {
  Statement q(db, "SELECT value FROM meta WHERE key = 'revision'");
  if (!q.ok() || q.Step() != SQLITE_ROW) return SqlError(db, "revision");
  return q.Int(0);
}

Object ReadObject(Statement& row, const std::string& kind) {
  return Object{kind, row.Text(0), row.Int(1), row.Int(2), row.Text(3)};
}

}  // namespace

class SqliteStore::ReadLease {
 public:
  explicit ReadLease(SqliteStore& store) : store_(store) {
    std::unique_lock lock(store_.readers_mutex_);
    if (store_.readers_.empty()) {
      lock.unlock();
      writer_lock_ = std::unique_lock(store_.mutex_);
      db_ = store_.db_;
      return;
    }
    store_.reader_free_.wait(lock, [&] { return !store_.idle_readers_.empty(); });
    db_ = store_.idle_readers_.back();
    store_.idle_readers_.pop_back();
  }
  ~ReadLease() {
    if (writer_lock_.owns_lock()) return;
    std::lock_guard lock(store_.readers_mutex_);
    store_.idle_readers_.push_back(db_);
    store_.reader_free_.notify_one();
  }
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;

  sqlite3* db() const { return db_; }

 private:
  SqliteStore& store_;
  sqlite3* db_ = nullptr;
  std::unique_lock<std::mutex> writer_lock_;
};

Status SqliteStore::OpenReaders(const std::string& path) {
  if (path == ":memory:" || path.empty()) return Status::Ok();
  for (int i = 0; i < kReaders; ++i) {
    sqlite3* reader = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &reader, flags, nullptr) != SQLITE_OK) {
      std::string message = reader ? sqlite3_errmsg(reader) : "out of memory";
      sqlite3_close(reader);
      return Error::Coded("internal", "store: cannot open '" + path + "': " + message);
    }
    readers_.push_back(reader);
    sqlite3_busy_timeout(reader, 5000);
    if (Status status = Exec(reader, "PRAGMA query_only=1"); !status) return status;
  }
  idle_readers_ = readers_;
  return Status::Ok();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error::Coded("internal", "store: cannot open '" + path + "': " + message, "data-dir");
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  sqlite3_busy_timeout(db, 5000);
  // WAL lets readers run beside the writer; FULL syncs the WAL on every
  // commit, so an acknowledged change survives a power cut, not only a crash.
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (Status status = Exec(db, pragma); !status) return status.error();
  }
  if (Status status = store->Migrate(); !status) return status.error();
  Result<int64_t> revision = store->RevisionLocked();
  if (!revision) return revision.error();
  store->revision_ = *revision;
  if (Status status = store->OpenReaders(path); !status) return status.error();
  return store;
}

SqliteStore::~SqliteStore() {
  for (sqlite3* reader : readers_) sqlite3_close(reader);
  sqlite3_close(db_);
}

Status SqliteStore::Migrate() {
  Statement version_query(db_, "PRAGMA user_version");
  if (!version_query.ok() || version_query.Step() != SQLITE_ROW) {
    return SqlError(db_, "reading the schema version");
  }
  int64_t version = version_query.Int(0);
  if (version > kSchemaVersion) {
    return Error::Coded("internal",
                        std::string("store: the database has schema version ") +
                            std::to_string(version) + std::string(", newer than this allot's ") +
                            std::to_string(kSchemaVersion) +
                            ": run a newer allot, or restore a backup",
                        "data-dir");
  }
  if (version == kSchemaVersion) return Status::Ok();
  Transaction tx(db_);
  if (Status status = tx.Begin(); !status) return status;
  for (int64_t v = version; v < kSchemaVersion; ++v) {
    if (Status status = Exec(db_, kMigrations[static_cast<size_t>(v)]); !status) return status;
  }
  std::string set_version = std::string("PRAGMA user_version=") + std::to_string(kSchemaVersion);
  if (Status status = Exec(db_, set_version.c_str()); !status) return status;
  return tx.Commit();
}

Result<Object> SqliteStore::Get(const std::string& kind, const std::string& name) {
  ReadLease lease(*this);
  sqlite3* db = lease.db();
  Statement q(db,
              "SELECT name, revision, created_revision, body FROM objects"
              " WHERE kind = ?1 AND name = ?2");
  if (!q.ok()) return SqlError(db, "get");
  q.Bind(1, kind);
  q.Bind(2, name);
  int rc = q.Step();
  if (rc == SQLITE_ROW) return ReadObject(q, kind);
  if (rc != SQLITE_DONE) return SqlError(db, "get");
  return Error::Coded("not_found", kind + " '" + name + "' does not exist", "name");
}

Result<Page> SqliteStore::List(const ListQuery& query) {
  ReadLease lease(*this);
  sqlite3* db = lease.db();
  std::string sql =
      "SELECT name, revision, created_revision, body FROM objects WHERE kind = ?1 AND name > ?2";
  int at = 4;
  for (size_t i = 0; i < query.equals.size(); ++i, at += 2) {
    sql += std::string(" AND json_extract(body, ?") + std::to_string(at) + std::string(") = ?") +
           std::to_string(at + 1);
  }
  sql += " ORDER BY name LIMIT ?3";
  // One read transaction: the page and its revision are of one snapshot.
  if (Status status = Exec(db, "BEGIN"); !status) return status.error();
  Page page;
  Status read = ReadPage(db, sql, query, page);
  (void)Exec(db, "COMMIT");
  if (!read) return read.error();
  return page;
}

Status SqliteStore::ReadPage(sqlite3* db, const std::string& sql, const ListQuery& query,
                             Page& page) {
  Statement q(db, sql.c_str());
  if (!q.ok()) return SqlError(db, "list");
  q.Bind(1, query.kind);
  q.Bind(2, query.after);
  q.Bind(3, query.limit + 1);
  int at = 4;
  for (const auto& [field, value] : query.equals) {
    q.Bind(at++, "$." + field);
    q.Bind(at++, value);
  }
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    if (static_cast<int64_t>(page.items.size()) == query.limit) {
      page.more = true;
      break;
    }
    page.items.push_back(ReadObject(q, query.kind));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db, "list");
  Result<int64_t> revision = RevisionOn(db);
  if (!revision) return revision.error();
  page.revision = *revision;
  return Status::Ok();
}

Result<int64_t> SqliteStore::RevisionLocked() {
  return RevisionOn(db_);
}

Result<int64_t> SqliteStore::Revision() {
  ReadLease lease(*this);
  return RevisionOn(lease.db());
}

Result<int64_t> SqliteStore::Commit(const std::vector<Write>& writes) {
  if (writes.empty()) return Revision();
  return commit_queue_.Submit(&writes, nullptr, nullptr);
}

Result<int64_t> SqliteStore::CommitAudited(const std::vector<Write>& writes,
                                           const AuditEntry& audit) {
  return commit_queue_.Submit(&writes, &audit, nullptr);
}

Result<int64_t> SqliteStore::CommitFenced(const std::vector<Write>& writes, const Lease& fence) {
  return commit_queue_.Submit(&writes, nullptr, &fence);
}

Status SqliteStore::AppendAudit(const AuditEntry& entry) {
  Result<int64_t> result = commit_queue_.Submit(nullptr, &entry, nullptr);
  if (!result) return result.error();
  return Status::Ok();
}

void SqliteStore::CommitGroup(const CommitQueue::Group& group) {
  std::lock_guard lock(mutex_);
  auto fail_all = [&](const Error& error) {
    for (CommitRequest* member : group) member->result = error;
  };
  Transaction tx(db_);
  if (Status status = tx.Begin(); !status) return fail_all(status.error());
  Result<int64_t> start = RevisionLocked();
  if (!start) return fail_all(start.error());
  int64_t revision = *start;
  for (CommitRequest* member : group) {
    if (!member->writes) {
      Status status = AppendAuditLocked(*member->audit);
      member->result = status ? Result<int64_t>(revision) : Result<int64_t>(status.error());
      continue;
    }
    // A savepoint per caller: its failure undoes its writes only.
    if (Status status = Exec(db_, "SAVEPOINT caller"); !status) return fail_all(status.error());
    int64_t before = revision;
    member->result = ApplyRequest(*member, revision);
    if (!member->result) {
      revision = before;
      if (Status status = Exec(db_, "ROLLBACK TO caller"); !status) {
        return fail_all(status.error());
      }
    }
    if (Status status = Exec(db_, "RELEASE caller"); !status) return fail_all(status.error());
  }
  if (revision != *start) {
    Statement bump(db_, "UPDATE meta SET value = ?1 WHERE key = 'revision'");
    bump.Bind(1, revision);
    if (bump.Step() != SQLITE_DONE) return fail_all(SqlError(db_, "revision"));
    if (revision / 1000 != *start / 1000) {  // now and then, trim the log
      Statement trim(db_, "DELETE FROM changes WHERE revision <= ?1");
      trim.Bind(1, revision - kChangeLogLength);
      if (trim.Step() != SQLITE_DONE) return fail_all(SqlError(db_, "trim"));
    }
  }
  if (Status status = tx.Commit(); !status) return fail_all(status.error());
  std::lock_guard watch(revision_mutex_);
  revision_ = revision;
  revision_changed_.notify_all();
}

Result<int64_t> SqliteStore::ApplyRequest(const CommitRequest& request, int64_t& revision) {
  if (request.fence) {
    Result<bool> holds = FenceHolds(*request.fence);
    if (!holds) return holds.error();
    if (!*holds) return FencedError(*request.fence);
  }
  Result<int64_t> applied = ApplyLocked(*request.writes, revision);
  if (applied && request.audit) {
    if (Status status = AppendAuditLocked(*request.audit); !status) return status.error();
  }
  return applied;
}

Result<bool> SqliteStore::FenceHolds(const Lease& fence) {
  Statement q(db_, "SELECT 1 FROM leases WHERE name = ?1 AND holder = ?2 AND epoch = ?3");
  if (!q.ok()) return SqlError(db_, "fence");
  q.Bind(1, fence.name);
  q.Bind(2, fence.holder);
  q.Bind(3, fence.epoch);
  int rc = q.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db_, "fence");
  return rc == SQLITE_ROW;
}

Result<int64_t> SqliteStore::ApplyLocked(const std::vector<Write>& writes, int64_t& revision) {
  int64_t next = revision;
  for (const Write& write : writes) {
    Statement current(db_,
                      "SELECT revision, created_revision, body FROM objects"
                      " WHERE kind = ?1 AND name = ?2");
    if (!current.ok()) return SqlError(db_, "commit");
    current.Bind(1, write.kind);
    current.Bind(2, write.name);
    int rc = current.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db_, "commit");
    bool exists = rc == SQLITE_ROW;
    if (std::string refused = RefusalCode(write, exists, exists ? current.Int(0) : 0);
        !refused.empty()) {
      return RefusalError(refused, write);
    }
    if (write.op == Write::Op::kCheck) continue;
    ++next;
    bool deleted = write.op == Write::Op::kDelete;
    std::string body = deleted ? current.Text(2) : write.body;
    if (deleted) {
      Statement del(db_, "DELETE FROM objects WHERE kind = ?1 AND name = ?2");
      del.Bind(1, write.kind);
      del.Bind(2, write.name);
      if (del.Step() != SQLITE_DONE) return SqlError(db_, "delete");
    } else {
      Statement put(db_,
                    "INSERT INTO objects (kind, name, revision, created_revision, body)"
                    " VALUES (?1, ?2, ?3, ?3, ?4) ON CONFLICT (kind, name)"
                    " DO UPDATE SET revision = ?3, body = ?4");
      put.Bind(1, write.kind);
      put.Bind(2, write.name);
      put.Bind(3, next);
      put.Bind(4, write.body);
      if (put.Step() != SQLITE_DONE) return SqlError(db_, "put");
    }
    Statement log(db_,
                  "INSERT INTO changes (revision, kind, name, deleted, body)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)");
    log.Bind(1, next);
    log.Bind(2, write.kind);
    log.Bind(3, write.name);
    log.Bind(4, int64_t{deleted ? 1 : 0});
    log.Bind(5, body);
    if (log.Step() != SQLITE_DONE) return SqlError(db_, "change log");
  }
  revision = next;
  return next;
}

int64_t SqliteStore::WaitForChange(int64_t revision, std::chrono::milliseconds timeout) {
  std::unique_lock lock(revision_mutex_);
  revision_changed_.wait_for(lock, timeout, [&] { return revision_ > revision; });
  return revision_;
}

Result<std::vector<Change>> SqliteStore::ChangesSince(int64_t revision, int64_t limit) {
  ReadLease lease(*this);
  sqlite3* db = lease.db();
  // One read transaction: the log's start and its end are of one snapshot.
  if (Status status = Exec(db, "BEGIN"); !status) return status.error();
  Result<std::vector<Change>> changes = ReadChanges(db, revision, limit);
  (void)Exec(db, "COMMIT");
  return changes;
}

Result<std::vector<Change>> SqliteStore::ReadChanges(sqlite3* db, int64_t revision, int64_t limit) {
  Statement oldest(db, "SELECT MIN(revision) FROM changes");
  if (!oldest.ok() || oldest.Step() != SQLITE_ROW) return SqlError(db, "changes");
  Result<int64_t> now = RevisionOn(db);
  if (!now) return now.error();
  // An empty log (a copied store) reaches back to nothing before now.
  int64_t first = sqlite3_column_type(oldest.raw(), 0) == SQLITE_NULL ? *now + 1 : oldest.Int(0);
  if (revision < *now && first > revision + 1) {
    return Error::Coded("gone",
                        std::string("revision ") + std::to_string(revision) +
                            " is older than the change log keeps: list again and watch from "
                            "the list's revision",
                        "revision");
  }
  Statement q(db,
              "SELECT revision, kind, name, deleted, body FROM changes WHERE revision > ?1"
              " ORDER BY revision LIMIT ?2");
  if (!q.ok()) return SqlError(db, "changes");
  q.Bind(1, revision);
  q.Bind(2, limit);
  std::vector<Change> changes;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    changes.push_back(Change{q.Int(0), q.Text(1), q.Text(2), q.Int(3) != 0, q.Text(4)});
  }
  if (rc != SQLITE_DONE) return SqlError(db, "changes");
  return changes;
}

Status SqliteStore::AppendAuditLocked(const AuditEntry& entry) {
  // A new entry (id 0) gets the next id; a restored one keeps its own.
  Statement q(db_,
              "INSERT INTO audit (time_ms, actor, source, method, path, allowed, status, detail,"
              " id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULLIF(?9, 0))");
  if (!q.ok()) return SqlError(db_, "audit");
  q.Bind(1, entry.time_ms);
  q.Bind(2, entry.actor);
  q.Bind(3, entry.source);
  q.Bind(4, entry.method);
  q.Bind(5, entry.path);
  q.Bind(6, int64_t{entry.allowed ? 1 : 0});
  q.Bind(7, int64_t{entry.status});
  q.Bind(8, entry.detail);
  q.Bind(9, entry.id);
  if (q.Step() != SQLITE_DONE) return SqlError(db_, "audit");
  return Status::Ok();
}

Result<std::vector<AuditEntry>> SqliteStore::ListAudit(const AuditQuery& query) {
  ReadLease lease(*this);
  sqlite3* db = lease.db();
  std::string sql =
      "SELECT id, time_ms, actor, source, method, path, allowed, status, detail"
      " FROM audit WHERE id > ?1 AND (?2 = '' OR actor = ?2) ORDER BY id";
  sql += query.newest_first ? " DESC LIMIT ?3" : " LIMIT ?3";
  Statement q(db, sql.c_str());
  if (!q.ok()) return SqlError(db, "audit");
  q.Bind(1, query.after_id);
  q.Bind(2, query.actor);
  q.Bind(3, query.limit);
  std::vector<AuditEntry> entries;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    entries.push_back(AuditEntry{q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Text(5),
                                 q.Int(6) != 0, static_cast<int32_t>(q.Int(7)), q.Text(8)});
  }
  if (rc != SQLITE_DONE) return SqlError(db, "audit");
  return entries;
}

}  // namespace allot::store
