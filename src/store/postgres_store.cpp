#include "store/postgres_store.h"

#include <poll.h>

#include <cstdlib>
#include <optional>

#include "store/postgres_schema.h"
#include "store/write_check.h"

namespace allot::store {
namespace {

constexpr const char* kChannel = "allot_changes";

// {"a","b\"c"}: a PostgreSQL array literal of `items`, each quoted.
std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string Str(int64_t value) {
  return std::to_string(value);
}

}  // namespace

class PostgresStore::ReadLease {
 public:
  explicit ReadLease(PostgresStore& store) : store_(store) {
    std::unique_lock lock(store_.readers_mutex_);
    store_.reader_free_.wait(lock, [&] { return !store_.idle_readers_.empty(); });
    db_ = store_.idle_readers_.back();
    store_.idle_readers_.pop_back();
  }
  ~ReadLease() {
    std::lock_guard lock(store_.readers_mutex_);
    store_.idle_readers_.push_back(db_);
    store_.reader_free_.notify_one();
  }
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;
  PgConnection& db() { return *db_; }

 private:
  PostgresStore& store_;
  PgConnection* db_ = nullptr;
};

template <typename T, typename Read>
Result<T> PostgresStore::OnReader(Read read) {
  ReadLease lease(*this);
  Result<T> result = read(lease.db());
  if (!result && result.error().code == "unavailable" && lease.db().Broken()) {
    if (Status again = lease.db().Reconnect(); !again) return again.error();
    result = read(lease.db());
  }
  return result;
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& conninfo) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(WithControlPlaneOptions(conninfo)));
  auto writer = PgConnection::Connect(store->conninfo_);
  if (!writer) return writer.error();
  store->writer_ = std::move(*writer);
  if (Status migrated = store->Migrate(); !migrated) return migrated.error();
  for (int i = 0; i < kReaders; ++i) {
    auto reader = PgConnection::Connect(store->conninfo_);
    if (!reader) return reader.error();
    store->idle_readers_.push_back(reader->get());
    store->readers_.push_back(std::move(*reader));
  }
  Result<int64_t> revision = store->Revision();
  if (!revision) return revision.error();
  store->revision_ = *revision;
  store->listener_ = std::thread([raw = store.get()] { raw->Listen(); });
  return store;
}

PostgresStore::~PostgresStore() {
  stopping_ = true;
  if (listener_.joinable()) listener_.join();
}

Status PostgresStore::Migrate() {
  PgConnection& db = *writer_;
  if (Status begun = db.Run("BEGIN"); !begun) return begun;
  auto migrate = [&]() -> Status {
    // One server migrates at a time; the others wait here, then find it done.
    if (Status locked = db.Run("SELECT pg_advisory_xact_lock(7070001)"); !locked) return locked;
    if (Status made = db.Run("CREATE TABLE IF NOT EXISTS allot_schema (version integer NOT NULL)");
        !made) {
      return made;
    }
    auto version = db.Query("SELECT version FROM allot_schema");
    if (!version) return version.error();
    int64_t current = version->size() ? version->Int(0, 0) : 0;
    if (current > kPostgresSchemaVersion) {
      return Error::Coded("internal",
                          std::string("store: the database has schema version ") + Str(current) +
                              std::string(", newer than this allot's ") +
                              Str(kPostgresSchemaVersion) +
                              ": run a newer allot, or restore a backup",
                          "store");
    }
    for (int64_t v = current; v < kPostgresSchemaVersion; ++v) {
      if (Status step = db.Run(kPostgresMigrations[static_cast<size_t>(v)]); !step) return step;
    }
    if (Status cleared = db.Run("DELETE FROM allot_schema"); !cleared) return cleared;
    return db.Run(std::string("INSERT INTO allot_schema VALUES (") + Str(kPostgresSchemaVersion) +
                  ")");
  };
  Status status = migrate();
  if (!status) {
    (void)db.Run("ROLLBACK");
    return status;
  }
  return db.Run("COMMIT");
}

Result<Object> PostgresStore::Get(const std::string& kind, const std::string& name) {
  bool cached = cache_.Caches(kind);
  if (cached) {
    if (std::optional<Result<Object>> kept = cache_.Find(kind, name)) return *kept;
  }
  uint64_t generation = cache_.Generation();
  Result<Object> read = OnReader<Object>([&](PgConnection& db) -> Result<Object> {
    auto rows = db.Query(
        "SELECT revision, created_revision, body FROM objects WHERE kind = $1 AND name = $2",
        {kind, name});
    if (!rows) return rows.error();
    if (rows->size() == 0) {
      return Error::Coded("not_found", kind + " '" + name + "' does not exist", "name");
    }
    return Object{kind, name, rows->Int(0, 0), rows->Int(0, 1), rows->Text(0, 2)};
  });
  if (cached) cache_.Keep(kind, name, read, generation);
  return read;
}

Result<Page> PostgresStore::List(const ListQuery& query) {
  // One statement, one snapshot: the page and its revision agree.
  std::string filter;
  std::vector<std::string> params = {query.kind, query.after, Str(query.limit + 1)};
  for (const auto& [field, value] : query.equals) {
    filter += std::string(" AND (body::jsonb ->> $") +
              Str(static_cast<int64_t>(params.size()) + 1) + std::string(") = $") +
              Str(static_cast<int64_t>(params.size()) + 2);
    params.push_back(field);
    params.push_back(value);
  }
  std::string sql =
      "SELECT m.value, o.name, o.revision, o.created_revision, o.body FROM meta m"
      " LEFT JOIN LATERAL (SELECT name, revision, created_revision, body FROM objects"
      " WHERE kind = $1 AND name > $2" +
      filter + " ORDER BY name LIMIT $3) o ON true WHERE m.key = 'revision' ORDER BY o.name";
  return OnReader<Page>([&](PgConnection& db) -> Result<Page> {
    auto rows = db.Query(sql, params);
    if (!rows) return rows.error();
    Page page;
    for (int row = 0; row < rows->size(); ++row) {
      page.revision = rows->Int(row, 0);
      if (rows->IsNull(row, 1)) continue;
      if (static_cast<int64_t>(page.items.size()) == query.limit) {
        page.more = true;
        break;
      }
      page.items.push_back(Object{query.kind, rows->Text(row, 1), rows->Int(row, 2),
                                  rows->Int(row, 3), rows->Text(row, 4)});
    }
    return page;
  });
}

Result<int64_t> PostgresStore::Revision() {
  return OnReader<int64_t>([](PgConnection& db) -> Result<int64_t> {
    auto rows = db.Query("SELECT value FROM meta WHERE key = 'revision'");
    if (!rows) return rows.error();
    return rows->Int(0, 0);
  });
}

Result<std::vector<Change>> PostgresStore::ChangesSince(int64_t revision, int64_t limit) {
  return OnReader<std::vector<Change>>([&](PgConnection& db) -> Result<std::vector<Change>> {
    auto rows = db.Query(
        "SELECT m.value, (SELECT min(revision) FROM changes), c.revision, c.kind, c.name,"
        " c.deleted, c.body FROM meta m LEFT JOIN LATERAL (SELECT * FROM changes"
        " WHERE revision > $1 ORDER BY revision LIMIT $2) c ON true"
        " WHERE m.key = 'revision' ORDER BY c.revision",
        {Str(revision), Str(limit)});
    if (!rows) return rows.error();
    int64_t now = rows->Int(0, 0);
    // An empty log (a copied store) reaches back to nothing before now.
    int64_t oldest = rows->IsNull(0, 1) ? now + 1 : rows->Int(0, 1);
    if (revision < now && oldest > revision + 1) {
      return Error::Coded("gone",
                          std::string("revision ") + Str(revision) +
                              " is older than the change log keeps: list again and watch from "
                              "the list's revision",
                          "revision");
    }
    std::vector<Change> changes;
    for (int row = 0; row < rows->size(); ++row) {
      if (rows->IsNull(row, 2)) continue;
      changes.push_back(Change{rows->Int(row, 2), rows->Text(row, 3), rows->Text(row, 4),
                               rows->Text(row, 5) == "t", rows->Text(row, 6)});
    }
    return changes;
  });
}

int64_t PostgresStore::WaitForChange(int64_t revision, std::chrono::milliseconds timeout) {
  std::unique_lock lock(revision_mutex_);
  revision_changed_.wait_for(lock, timeout, [&] { return revision_ > revision; });
  return revision_;
}

void PostgresStore::Published(int64_t revision) {
  std::lock_guard lock(revision_mutex_);
  if (revision <= revision_) return;
  revision_ = revision;
  revision_changed_.notify_all();
}

// Follows the other servers' commits: their NOTIFYs carry the revision.
// After a lost connection it reads the revision again, for the
// notifications it missed.
void PostgresStore::Listen() {
  std::unique_ptr<PgConnection> db;
  while (!stopping_) {
    if (!db || db->Broken()) {
      db.reset();
      cache_.Pause();  // deaf to the others' changes until listening again
      auto connected = PgConnection::Connect(conninfo_);
      if (!connected || !(*connected)->Run(std::string("LISTEN ") + kChannel)) {
        for (int i = 0; i < 10 && !stopping_; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        continue;
      }
      db = std::move(*connected);
      cache_.Resume();  // listening: from empty, with nothing missed from now on
      if (auto now = db->Query("SELECT value FROM meta WHERE key = 'revision'"); now) {
        Published(now->Int(0, 0));
      }
    }
    // Taken after every wait, not only when the socket has bytes: libpq
    // may already hold a notification that came in during a query (the
    // revision above), and the socket would then never wake for it.
    pollfd fd{db->Socket(), POLLIN, 0};
    (void)::poll(&fd, 1, 200);
    auto payloads = db->TakeNotifications();
    if (!payloads) continue;
    for (const std::string& payload : *payloads) Heard(payload);
  }
}

Result<int64_t> PostgresStore::Commit(const std::vector<Write>& writes) {
  if (writes.empty()) return Revision();
  return commit_queue_.Submit(&writes, nullptr, nullptr);
}

Result<int64_t> PostgresStore::CommitAudited(const std::vector<Write>& writes,
                                             const AuditEntry& audit) {
  return commit_queue_.Submit(&writes, &audit, nullptr);
}

Result<int64_t> PostgresStore::CommitFenced(const std::vector<Write>& writes, const Lease& fence) {
  return commit_queue_.Submit(&writes, nullptr, &fence);
}

Status PostgresStore::AppendAudit(const AuditEntry& entry) {
  Result<int64_t> result = commit_queue_.Submit(nullptr, &entry, nullptr);
  if (!result) return result.error();
  return Status::Ok();
}

void PostgresStore::CommitGroup(const CommitQueue::Group& group) {
  std::lock_guard lock(writer_mutex_);
  int64_t revision = 0;
  Status status = RunGroup(group, revision);
  // Before anyone is answered; after a failure too, since a COMMIT whose
  // answer was lost may have happened.
  EvictWritten(group);
  if (!status) {
    (void)writer_->Run("ROLLBACK");
    for (CommitRequest* member : group) member->result = status.error();
    return;
  }
  Published(revision);
}

Status PostgresStore::RunGroup(const CommitQueue::Group& group, int64_t& revision) {
  PgConnection& db = *writer_;
  if (Status begun = db.Run("BEGIN"); !begun) return begun;
  // The revision row, locked: every server's commits run one after another.
  auto start = db.Query("SELECT value FROM meta WHERE key = 'revision' FOR UPDATE");
  if (!start) return start.error();
  revision = start->Int(0, 0);
  const int64_t first = revision;
  for (CommitRequest* member : group) {
    if (!member->writes) {
      if (Status audited = AppendAuditOn(db, *member->audit); !audited) return audited;
      member->result = revision;
      continue;
    }
    member->result = ApplyRequest(*member, revision);
    // A refusal leaves the transaction usable; any other error aborted it,
    // and with it every member's writes.
    if (!member->result && (member->result.error().code == "unavailable" ||
                            member->result.error().code == "internal")) {
      return member->result.error();
    }
  }
  if (revision != first) {
    if (auto bumped =
            db.Query("UPDATE meta SET value = $1 WHERE key = 'revision'", {Str(revision)});
        !bumped) {
      return bumped.error();
    }
    if (revision / 1000 != first / 1000) {  // now and then, trim the log
      auto trimmed =
          db.Query("DELETE FROM changes WHERE revision <= $1", {Str(revision - kChangeLogLength)});
      if (!trimmed) return trimmed.error();
    }
    auto notified =
        db.Query("SELECT pg_notify($1, $2)", {kChannel, NotifyPayload(group, revision)});
    if (!notified) return notified.error();
  }
  return db.Run("COMMIT");
}

std::string PostgresStore::NotifyPayload(const CommitQueue::Group& group, int64_t revision) const {
  constexpr size_t kMaxPayload = 7000;  // PostgreSQL takes up to 8000 bytes
  std::string payload = Str(revision);
  for (const CommitRequest* member : group) {
    if (!member->writes || !member->result) continue;
    for (const Write& write : *member->writes) {
      if (write.op == Write::Op::kCheck || !cache_.Caches(write.kind)) continue;
      payload.append("\n").append(write.kind).append("\t").append(write.name);
    }
  }
  if (payload.size() > kMaxPayload) payload = Str(revision).append("\n*");
  return payload;
}

void PostgresStore::EvictWritten(const CommitQueue::Group& group) {
  for (const CommitRequest* member : group) {
    if (!member->writes) continue;
    for (const Write& write : *member->writes) cache_.Evict(write.kind, write.name);
  }
}

void PostgresStore::Heard(const std::string& payload) {
  Published(std::strtoll(payload.c_str(), nullptr, 10));
  size_t at = payload.find('\n');
  while (at != std::string::npos) {
    size_t end = payload.find('\n', at + 1);
    std::string line = payload.substr(at + 1, end == std::string::npos ? end : end - at - 1);
    size_t tab = line.find('\t');
    if (line == "*") {
      cache_.Clear();
    } else if (tab != std::string::npos) {
      cache_.Evict(line.substr(0, tab), line.substr(tab + 1));
    }
    at = end;
  }
}

Result<int64_t> PostgresStore::ApplyRequest(const CommitRequest& request, int64_t& revision) {
  const std::vector<Write>& writes = *request.writes;
  std::vector<std::string> ops, kinds, names, bodies, expected;
  int64_t applied = 0;
  for (const Write& write : writes) {
    ops.push_back(Str(static_cast<int64_t>(write.op)));
    kinds.push_back(write.kind);
    names.push_back(write.name);
    bodies.push_back(write.body);
    expected.push_back(Str(write.expected_revision));
    if (write.op != Write::Op::kCheck) ++applied;
  }
  const Lease none;
  const Lease& fence = request.fence ? *request.fence : none;
  auto refused = writer_->Query(
      "SELECT allot_apply($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      {ArrayLiteral(ops), ArrayLiteral(kinds), ArrayLiteral(names), ArrayLiteral(bodies),
       ArrayLiteral(expected), Str(revision), fence.name, fence.holder, Str(fence.epoch)});
  if (!refused) return refused.error();
  std::string code = refused->Text(0, 0);
  if (!code.empty()) {
    std::string::size_type colon = code.rfind(':');
    size_t index = static_cast<size_t>(std::strtoll(code.c_str() + colon + 1, nullptr, 10));
    code.resize(colon);
    if (code == "fenced") return FencedError(fence);
    return RefusalError(code, writes[index == 0 ? 0 : index - 1]);
  }
  if (request.audit) {
    if (Status audited = AppendAuditOn(*writer_, *request.audit); !audited) {
      return audited.error();
    }
  }
  revision += applied;
  return revision;
}

Status PostgresStore::AppendAuditOn(PgConnection& db, const AuditEntry& entry) {
  auto inserted = db.Query(
      "INSERT INTO audit (time_ms, actor, source, method, path, allowed, status, detail)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {Str(entry.time_ms), entry.actor, entry.source, entry.method, entry.path,
       entry.allowed ? "true" : "false", Str(entry.status), entry.detail});
  if (!inserted) return inserted.error();
  return Status::Ok();
}

Result<std::vector<AuditEntry>> PostgresStore::ListAudit(const AuditQuery& query) {
  std::string sql =
      "SELECT id, time_ms, actor, source, method, path, allowed, status, detail"
      " FROM audit WHERE id > $1 AND ($2 = '' OR actor = $2) ORDER BY id";
  sql += query.newest_first ? " DESC LIMIT $3" : " LIMIT $3";
  return OnReader<std::vector<AuditEntry>>(
      [&](PgConnection& db) -> Result<std::vector<AuditEntry>> {
        auto rows = db.Query(sql, {Str(query.after_id), query.actor, Str(query.limit)});
        if (!rows) return rows.error();
        std::vector<AuditEntry> entries;
        for (int r = 0; r < rows->size(); ++r) {
          entries.push_back(AuditEntry{rows->Int(r, 0), rows->Int(r, 1), rows->Text(r, 2),
                                       rows->Text(r, 3), rows->Text(r, 4), rows->Text(r, 5),
                                       rows->Text(r, 6) == "t",
                                       static_cast<int32_t>(rows->Int(r, 7)), rows->Text(r, 8)});
        }
        return entries;
      });
}

Result<Lease> PostgresStore::AcquireLease(const std::string& name, const std::string& holder,
                                          std::chrono::milliseconds ttl) {
  return OnReader<Lease>([&](PgConnection& db) -> Result<Lease> {
    auto taken = db.Query(
        "INSERT INTO leases AS l (name, holder, epoch, expires_at)"
        " VALUES ($1, $2, 1, clock_timestamp() + make_interval(secs => $3::float8 / 1000))"
        " ON CONFLICT (name) DO UPDATE SET"
        "  epoch = CASE WHEN l.holder = excluded.holder THEN l.epoch ELSE l.epoch + 1 END,"
        "  holder = excluded.holder, expires_at = excluded.expires_at"
        " WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()"
        " RETURNING epoch",
        {name, holder, Str(ttl.count())});
    if (!taken) return taken.error();
    if (taken->size() == 1) return Lease{name, holder, taken->Int(0, 0)};
    auto who = db.Query("SELECT holder FROM leases WHERE name = $1", {name});
    std::string current = who && who->size() ? who->Text(0, 0) : "another server";
    return Error::Coded("held", "store: the lease '" + name + "' is held by '" + current + "'",
                        "lease");
  });
}

Status PostgresStore::ReleaseLease(const Lease& lease) {
  auto released = OnReader<int64_t>([&](PgConnection& db) -> Result<int64_t> {
    auto rows = db.Query(
        "UPDATE leases SET expires_at = clock_timestamp()"
        " WHERE name = $1 AND holder = $2 AND epoch = $3",
        {lease.name, lease.holder, Str(lease.epoch)});
    if (!rows) return rows.error();
    return int64_t{0};
  });
  if (!released) return released.error();
  return Status::Ok();
}

Status PostgresStore::RecordHeartbeat(const std::string& node, int64_t heard_ms) {
  auto recorded = OnReader<int64_t>([&](PgConnection& db) -> Result<int64_t> {
    auto rows = db.Query(
        "INSERT INTO heartbeats AS h (node, heard_ms) VALUES ($1, $2) ON CONFLICT (node)"
        " DO UPDATE SET heard_ms = greatest(h.heard_ms, excluded.heard_ms)",
        {node, Str(heard_ms)});
    if (!rows) return rows.error();
    return int64_t{0};
  });
  if (!recorded) return recorded.error();
  return Status::Ok();
}

Result<std::map<std::string, int64_t>> PostgresStore::Heartbeats() {
  return OnReader<std::map<std::string, int64_t>>(
      [](PgConnection& db) -> Result<std::map<std::string, int64_t>> {
        auto rows = db.Query("SELECT node, heard_ms FROM heartbeats");
        if (!rows) return rows.error();
        std::map<std::string, int64_t> heard;
        for (int r = 0; r < rows->size(); ++r) heard[rows->Text(r, 0)] = rows->Int(r, 1);
        return heard;
      });
}

}  // namespace allot::store

namespace allot::store {

Result<std::vector<std::string>> PostgresStore::Kinds() {
  return OnReader<std::vector<std::string>>(
      [](PgConnection& db) -> Result<std::vector<std::string>> {
        auto rows = db.Query("SELECT DISTINCT kind FROM objects ORDER BY kind");
        if (!rows) return rows.error();
        std::vector<std::string> kinds;
        for (int r = 0; r < rows->size(); ++r) kinds.push_back(rows->Text(r, 0));
        return kinds;
      });
}

Status PostgresStore::Restore(const std::vector<Object>& objects,
                              const std::vector<AuditEntry>& audit, int64_t revision) {
  std::lock_guard lock(writer_mutex_);
  PgConnection& db = *writer_;
  auto count = db.Query("SELECT (SELECT count(*) FROM objects) + (SELECT count(*) FROM audit)");
  if (!count) return count.error();
  if (count->Int(0, 0) != 0) {
    return Error::Coded("invalid", "store: the target store is not empty: copy into a new one",
                        "store");
  }
  auto load = [&]() -> Status {
    if (Status begun = db.Run("BEGIN"); !begun) return begun;
    for (const Object& object : objects) {
      auto put = db.Query(
          "INSERT INTO objects (kind, name, revision, created_revision, body)"
          " VALUES ($1, $2, $3, $4, $5)",
          {object.kind, object.name, Str(object.revision), Str(object.created_revision),
           object.body});
      if (!put) return put.error();
    }
    for (const AuditEntry& entry : audit) {
      auto put = db.Query(
          "INSERT INTO audit (id, time_ms, actor, source, method, path, allowed, status, detail)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
          {Str(entry.id), Str(entry.time_ms), entry.actor, entry.source, entry.method, entry.path,
           entry.allowed ? "true" : "false", Str(entry.status), entry.detail});
      if (!put) return put.error();
    }
    // New entries continue after the copied ones.
    if (Status ids =
            db.Run("SELECT setval('audit_id_seq', greatest((SELECT max(id) FROM audit), 1),"
                   " (SELECT max(id) FROM audit) IS NOT NULL)");
        !ids) {
      return ids;
    }
    auto bumped = db.Query("UPDATE meta SET value = $1 WHERE key = 'revision'", {Str(revision)});
    if (!bumped) return bumped.error();
    auto notified = db.Query("SELECT pg_notify($1, $2)", {kChannel, Str(revision).append("\n*")});
    if (!notified) return notified.error();
    return db.Run("COMMIT");
  };
  Status loaded = load();
  cache_.Clear();  // what it had found missing is there now
  if (!loaded) {
    (void)db.Run("ROLLBACK");
    return loaded;
  }
  Published(revision);
  return Status::Ok();
}

Status PostgresStore::RecordServiceLoad(const ServiceLoad& load) {
  auto recorded = OnReader<int64_t>([&](PgConnection& db) -> Result<int64_t> {
    auto rows = db.Query(
        "INSERT INTO service_loads (server, service, body, at_ms) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (server, service) DO UPDATE SET body = excluded.body, at_ms = excluded.at_ms",
        {load.server, load.service, load.body, Str(load.at_ms)});
    if (!rows) return rows.error();
    return int64_t{0};
  });
  if (!recorded) return recorded.error();
  return Status::Ok();
}

Result<std::vector<ServiceLoad>> PostgresStore::ServiceLoads() {
  return OnReader<std::vector<ServiceLoad>>(
      [](PgConnection& db) -> Result<std::vector<ServiceLoad>> {
        auto rows = db.Query("SELECT server, service, body, at_ms FROM service_loads");
        if (!rows) return rows.error();
        std::vector<ServiceLoad> loads;
        for (int r = 0; r < rows->size(); ++r) {
          loads.push_back({rows->Text(r, 0), rows->Text(r, 1), rows->Text(r, 2), rows->Int(r, 3)});
        }
        return loads;
      });
}

}  // namespace allot::store
