// What the API's route files share (docs/api.md): the store and options,
// the commit that carries a request's audit entry, the scopes the role
// checks need, reading one object or a page of a kind, and who may read
// which workloads. One ApiContext per HttpApi; the routes of each resource
// (*_routes.cpp) hold a reference to it.
#pragma once

#include <httplib.h>

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/agent_routes.h"
#include "api/auth.h"
#include "api/http_api.h"
#include "api/route_support.h"
#include "core/queue.h"
#include "store/store.h"
#include "wire/json_reader.h"
#include "wire/resources.h"

namespace allot::api {

// How a route's successes are recorded.
enum class Record {
  kAudited,  // a mutation: audited, and the scheduling loop is woken
  kQuiet,    // agents' heartbeats and reports: frequent, not audited; the
             // handler audits or wakes the loop itself when it matters
};

using Handler = std::function<Result<Reply>(const httplib::Request&, const Caller&)>;
// Registers a route (HttpApi's middleware: authentication, errors as JSON,
// audit, metrics, then the handler).
using AddRoute = std::function<void(const char* method, const std::string& pattern, Handler handler,
                                    Record record)>;

// A stored workload with the revision it was read at and its project's
// scope (for the role checks).
struct StoredWorkload {
  wire::WorkloadResource workload;
  int64_t revision = 0;
  Scope scope;
};

class ApiContext {
 public:
  ApiContext(store::Store& store, const ApiOptions& options, server::NodeLiveness& liveness,
             server::WorkloadUsage& workload_usage, MetricsRegistry& metrics,
             server::ServiceDirectory& services, server::ServiceTraffic& service_traffic);

  store::Store& store() { return store_; }
  const ApiOptions& options() const { return options_; }
  server::NodeLiveness& liveness() { return liveness_; }
  server::WorkloadUsage& workload_usage() { return workload_usage_; }
  MetricsRegistry& metrics() { return metrics_; }
  server::ServiceDirectory& services() { return services_; }
  server::ServiceTraffic& service_traffic() { return service_traffic_; }
  AgentRoutes& agents() { return agents_; }
  // Set when the server stops: long polls answer at once.
  std::atomic<bool>& stopping() { return stopping_; }

  // The caller a request's Authorization header names ("Bearer <token>": a
  // user's token, an agent's, or a join token), or why none.
  Result<User> Authenticate(const std::string& authorization);
  // The user of `token` ("allot_<id>_<secret>"), as Authenticate.
  Result<User> AuthenticateToken(const std::string& token);

  // A request's body as a JSON object, or the error naming what is wrong.
  static Result<nlohmann::json> Body(const httplib::Request& req) {
    return wire::ParseJsonObject(req.body);
  }

  // Commits a request's writes with its audit entry (allowed, `status`),
  // one transaction and one sync for both.
  Result<int64_t> CommitAudited(const Caller& caller, const std::vector<store::Write>& writes,
                                int32_t status);

  // Gives `user` the next uid of the server's range and commits it with
  // the user (created, or updated), retrying when another assignment won
  // the race; audited as `caller`'s request when `caller` is given.
  Result<int64_t> CommitWithAssignedIdentity(const Caller* caller, User& user, bool create_user,
                                             int32_t status);
  // The project's grants for the workload's volumes and root, and the
  // identity its tasks run as (docs/isolation.md), set in workload.runtime.
  Status ResolveRuntime(wire::WorkloadResource& workload, const Caller& caller);
  // What project `name` allows its tasks (volumes, root, default identity).
  Result<wire::ProjectPolicy> ProjectPolicyOf(const std::string& name);

  // The scope of `project` as `user`'s roles need it: the departments above
  // the project's own are read (one store read each) only when the user
  // holds a department binding that could be one of them.
  Result<Scope> ProjectScope(const std::string& project, const User& user);
  // The scope of department `name`: it and the departments above it.
  Result<Scope> DepartmentScope(const std::string& name, const std::string& field = "department");
  // Who may create, change or delete a queue: a project's quota is set
  // within its department (kSetQuota there), a department's within its
  // parent's, and a top-level department's by admins (kAdminister).
  Result<Scope> QueueScope(const core::QueueSpec& spec, bool is_project, Access& access);

  // GET lists: ?limit=&after=, plus equality filters on the given fields;
  // only the items `visible` accepts (all when it is empty).
  Result<Reply> List(const httplib::Request& req, const std::string& kind,
                     const std::vector<std::string>& filters,
                     const std::function<bool(const nlohmann::json&)>& visible);
  // One stored object with its revision.
  Result<Reply> GetOne(const std::string& kind, const std::string& name);
  // Deletes one stored object with the request's audit entry:
  // {"deleted": name, "revision": r}.
  Result<Reply> DeleteOne(const Caller& caller, const std::string& kind, const std::string& name);
  Result<StoredWorkload> LoadWorkload(const std::string& name, const User& user);

  // Kinds never served: credentials and agents' records.
  static bool IsSecretKind(const std::string& kind);
  // A filter for workloads (and events) the caller may see; empty when it
  // sees everything. An agent sees the workloads whose tasks name one of its
  // nodes, now or as their previous node (so that it stops what moved away).
  Result<std::function<bool(const nlohmann::json&)>> WorkloadsVisibleTo(const Caller& caller);
  // Whether the caller may read a workload of `project`.
  bool MayRead(const Caller& caller, const std::string& project);
  // A filter for list items by their "project": each project's access is
  // looked up once per request, not once per item. Empty when the caller
  // reads everything.
  std::function<bool(const nlohmann::json&)> ReadableByProject(const Caller& caller);

 private:
  store::Store& store_;
  const ApiOptions& options_;
  server::NodeLiveness& liveness_;
  server::WorkloadUsage& workload_usage_;
  MetricsRegistry& metrics_;
  server::ServiceDirectory& services_;
  server::ServiceTraffic& service_traffic_;
  AgentRoutes agents_;
  std::atomic<bool> stopping_{false};
};

// What every resource's routes class holds: the context, and its store and
// options for short.
class ResourceRoutes {
 public:
  explicit ResourceRoutes(ApiContext& ctx)
      : ctx_(ctx), store_(ctx.store()), options_(ctx.options()) {}

 protected:
  ApiContext& ctx_;
  store::Store& store_;
  const ApiOptions& options_;
};

// The routes of each resource, one file each.
void AddQueueRoutes(ApiContext& context, const AddRoute& add);     // departments, projects
void AddWorkloadRoutes(ApiContext& context, const AddRoute& add);  // workloads, usage, logs
void AddNodeRoutes(ApiContext& context, const AddRoute& add);      // nodes, agents, cluster
void AddIdentityRoutes(ApiContext& context, const AddRoute& add);  // users, tokens, whoami
void AddWatchRoutes(ApiContext& context, const AddRoute& add);     // watch, audit, events
void AddSessionRoutes(ApiContext& context, const AddRoute& add);   // the page's cookie
void AddServiceRoutes(ApiContext& context, const AddRoute& add);   // inference services

}  // namespace allot::api
