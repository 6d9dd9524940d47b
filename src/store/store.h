// Durable state of the control plane (architecture.md §5). Every API resource is
// an object: a kind ("workloads"), a unique name within the kind and a JSON
// body. Every change of an object gets the next revision number of the whole
// store, and is kept in a change log so that clients can list and then watch
// from the list's revision, as with Kubernetes. The audit log is kept beside
// the objects. A change is durable before Commit() returns.
//
// Several servers may share one store (PostgreSQL): they elect the one that
// runs the scheduling loop with a lease, and the leader's writes carry the
// lease as a fence (CommitFenced), so that a deposed leader's plan is refused
// whole. The agents' heartbeats, heard by any server, are kept beside the
// objects for the leader to read.
//
// Implementations: SqliteStore (sqlite_store.h, one server), PostgresStore
// (postgres_store.h, several); OpenStore (open_store.h) picks one by URL.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace allot::store {

struct Object {
  std::string kind;
  std::string name;
  int64_t revision = 0;          // of its last change
  int64_t created_revision = 0;  // of its creation
  std::string body;              // JSON
};

// One write of a Commit().
struct Write {
  // kCheck writes nothing: it fails the commit unless the object is at
  // expected_revision (or, with 0, exists).
  enum class Op { kCreate, kUpdate, kDelete, kCheck };
  Op op = Op::kCreate;
  std::string kind;
  std::string name;
  std::string body;  // JSON; ignored for kDelete and kCheck
  // kUpdate, kDelete and kCheck: the revision the writer read; the write fails with
  // "conflict" when the object changed since. 0 means "whatever it is now".
  int64_t expected_revision = 0;
};

struct Change {
  int64_t revision = 0;
  std::string kind;
  std::string name;
  bool deleted = false;
  std::string body;  // the body after the change (before it, for a delete)
};

struct ListQuery {
  std::string kind;
  std::string after;  // names greater than this (the previous page's last)
  int64_t limit = 100;
  // Only objects whose top-level JSON field equals the value (as text).
  std::vector<std::pair<std::string, std::string>> equals;
};

struct Page {
  std::vector<Object> items;
  bool more = false;     // another page follows; ask with after = last name
  int64_t revision = 0;  // the store's revision the page was read at
};

struct AuditEntry {
  int64_t id = 0;  // assigned by the store, increasing
  int64_t time_ms = 0;
  std::string actor;   // user name, or "anonymous" for a refused token
  std::string source;  // the client's address
  std::string method;  // "POST"
  std::string path;    // "/api/v1/workloads"
  bool allowed = false;
  int32_t status = 0;  // HTTP status returned
  std::string detail;  // what was refused, or what changed
};

// One server's view of one service's traffic (server/service_traffic.h),
// for the other servers: `body` is the sample as JSON, `at_ms` when taken.
struct ServiceLoad {
  std::string server;
  std::string service;
  std::string body;
  int64_t at_ms = 0;
};

// Leadership of one job among the servers that share a store.
struct Lease {
  std::string name;    // the job: "scheduler"
  std::string holder;  // the server that holds it
  // Raised whenever the holder changes: the fencing token a leader's
  // commits carry.
  int64_t epoch = 0;
};

struct AuditQuery {
  int64_t after_id = 0;
  int64_t limit = 100;
  std::string actor;          // empty: anyone
  bool newest_first = false;  // the latest `limit` entries, newest first
};

class Store {
 public:
  virtual ~Store() = default;

  // The object, or an error with code "not_found".
  virtual Result<Object> Get(const std::string& kind, const std::string& name) = 0;

  // One page of a kind in name order.
  virtual Result<Page> List(const ListQuery& query) = 0;

  // Applies all writes or none, and returns the revision of the last one.
  // Errors: "already_exists" (create of an existing name), "not_found"
  // (update or delete of a missing one), "conflict" (expected_revision did
  // not match). Durable once it returns.
  virtual Result<int64_t> Commit(const std::vector<Write>& writes) = 0;
  // Commit() and, when the writes succeed, AppendAudit(audit) in the same
  // transaction: the change and its record are durable together.
  virtual Result<int64_t> CommitAudited(const std::vector<Write>& writes,
                                        const AuditEntry& audit) = 0;
  // Commit(), only while `fence` is still held with its epoch: error
  // "fenced" (nothing written) once another server took the lease over.
  virtual Result<int64_t> CommitFenced(const std::vector<Write>& writes, const Lease& fence) = 0;

  // Changes after `revision`, oldest first, at most `limit`. Error "gone"
  // when the log no longer reaches back that far: list again.
  virtual Result<std::vector<Change>> ChangesSince(int64_t revision, int64_t limit) = 0;

  // The revision of the latest change (0 for an empty store).
  virtual Result<int64_t> Revision() = 0;

  // Blocks until the store's revision is past `revision` or `timeout` has
  // passed, and returns the revision then (watchers long-poll with this).
  virtual int64_t WaitForChange(int64_t revision, std::chrono::milliseconds timeout) = 0;

  virtual Status AppendAudit(const AuditEntry& entry) = 0;
  virtual Result<std::vector<AuditEntry>> ListAudit(const AuditQuery& query) = 0;

  // Takes the lease `name` for `holder`, or renews it when `holder` has it,
  // for `ttl` from now on the store's clock. Error "held" (the message names
  // the holder) while another holder's lease runs. A new holder gets the
  // next epoch; a renewal keeps it.
  virtual Result<Lease> AcquireLease(const std::string& name, const std::string& holder,
                                     std::chrono::milliseconds ttl) = 0;
  // Ends `lease` now if it is still held as given, so another server may
  // take it at once.
  virtual Status ReleaseLease(const Lease& lease) = 0;

  // Records that `node`'s agent was heard at `heard_ms` (kept, not logged:
  // no revision, no watcher woken), and the latest such time per node.
  virtual Status RecordHeartbeat(const std::string& node, int64_t heard_ms) = 0;
  virtual Result<std::map<std::string, int64_t>> Heartbeats() = 0;

  // Records the load that `server`'s gateway saw on a service (kept like
  // heartbeats: no revision), replacing that server's last one; and every
  // server's last, so that the leader scales on what all gateways see.
  virtual Status RecordServiceLoad(const ServiceLoad& load) = 0;
  virtual Result<std::vector<ServiceLoad>> ServiceLoads() = 0;

  // The kinds that have objects, in name order.
  virtual Result<std::vector<std::string>> Kinds() = 0;
  // Loads a copy of another store into this one, which must be empty
  // (error "invalid" otherwise): the objects with their revisions, the
  // audit log with its ids, and the store's revision. The change log starts
  // empty, so a watcher from before the copy is told to list again.
  virtual Status Restore(const std::vector<Object>& objects, const std::vector<AuditEntry>& audit,
                         int64_t revision) = 0;

  // Whether other servers may use this store at the same time.
  virtual bool Shared() const = 0;
};

}  // namespace allot::store
