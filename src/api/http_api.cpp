#include "api/http_api.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "api/agent_routes.h"
#include "api/auth.h"
#include "api/cluster_metrics.h"
#include "api/openapi_document.h"
#include "api/route_support.h"
#include "api/web_assets.h"
#include "common/quantity.h"
#include "core/snapshot.h"
#include "server/task_lifecycle.h"
#include "wire/json_reader.h"
#include "wire/resources.h"

namespace allot::api {

using server::GpuUsageSample;
using server::NodeLiveness;
using server::UsagePoint;
using server::WorkloadUsage;
using server::WorkloadUsageSummary;
using wire::DecodeNode;
using wire::DecodeQueue;
using wire::DecodeStoredWorkload;
using wire::DecodeWorkloadSubmission;
using wire::EncodeNode;
using wire::EncodeQueue;
using wire::EncodeWorkload;
using wire::IsActive;
using wire::JsonReader;
using wire::NodeResource;
using wire::ParseJsonObject;
using wire::QueueResource;
using wire::ReleaseTask;
using wire::SchedulerQueue;
using wire::StatusName;
using wire::WorkloadResource;
using wire::WorkloadStatus;

namespace {

using nlohmann::json;
using store::Write;
using Op = store::Write::Op;

}  // namespace

class HttpApi::Impl {
 public:
  Impl(store::Store& store, ApiOptions options)
      : store_(store),
        options_(WithDefaults(std::move(options))),
        own_liveness_(options_.now_ms()),
        liveness_(options_.liveness ? *options_.liveness : own_liveness_),
        metrics_(options_.metrics ? *options_.metrics : own_metrics_),
        workload_usage_(options_.workload_usage ? *options_.workload_usage : own_workload_usage_),
        agents_(store_, options_, liveness_, workload_usage_,
                [this](const Caller& caller, const std::vector<Write>& writes, int32_t status) {
                  return CommitAudited(caller, writes, status);
                }) {
    // httplib refuses bodies past this itself; the JSON error handler below
    // gives those the API's error form.
    server_.set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
    // A kept-alive connection holds a worker thread, and watchers hold one
    // while they wait: size the pool for many clients, not for the cores.
    server_.new_task_queue = [threads = options_.worker_threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    // Debian's httplib is a compiled library that listens with a backlog of
    // 5, which drops connections when many clients connect at once: note
    // the listening socket, and Bind() widens its backlog.
    server_.set_socket_options([this](socket_t socket) {
      httplib::default_socket_options(socket);
      listen_socket_ = socket;
    });
    // httplib closes a kept-alive connection after 5 requests by default,
    // which races with clients that send the next one at once.
    server_.set_keep_alive_max_count(100000);
    // Replies go out at once, not after the client's delayed ACK.
    server_.set_tcp_nodelay(true);
    metrics_.DeclareHistogram(
        "allot_api_request_duration_seconds",
        "Time to answer an API request, by method, route and status code "
        "(watches and followed logs last as long as they wait).",
        {"method", "route", "code"},
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
    server_.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;
      std::string code = res.status == 413   ? "too_large"
                         : res.status == 404 ? "not_found"
                                             : "invalid";
      std::string message = res.status == 413   ? "the request body is over the size limit"
                            : res.status == 404 ? "no such route: see /api/v1/openapi.json"
                                                : "the request could not be read";
      res.set_content(ErrorBody(Error::Coded(code, message)).dump(), "application/json");
    });
    Routes();
  }

  Result<int> Bind(const std::string& host, int port) {
    int bound =
        port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
    if (bound < 0) {
      return Error::Coded("internal",
                          "cannot listen on " + host + ":" + std::to_string(port) +
                              ": the port is taken or not allowed; pick another with --port",
                          "port");
    }
    // listen() again on a listening socket only changes its backlog (Linux).
    if (listen_socket_ >= 0) ::listen(listen_socket_, kListenBacklog);
    return bound;
  }
  void Serve() { server_.listen_after_bind(); }
  void Stop() {
    stopping_ = true;  // watchers answer within a slice, so that stop() can join them
    server_.stop();
  }

 private:
  using Handler = std::function<Result<Reply>(const httplib::Request&, const Caller&)>;

  static ApiOptions WithDefaults(ApiOptions options) {
    if (!options.now_ms) {
      options.now_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
      };
    }
    return options;
  }

  // How a route's successes are recorded.
  enum class Record {
    kAudited,  // a mutation: audited, and the scheduling loop is woken
    kQuiet,    // agents' heartbeats and reports: frequent, not audited; the
               // handler audits or wakes the loop itself when it matters
  };

  // Registers a route: authentication, the handler, errors as JSON, audit.
  void Route(const char* method, const std::string& pattern, Handler handler,
             Record record = Record::kAudited) {
    auto wrapped = [this, handler, record, method = std::string(method),
                    route = RouteLabel(pattern)](const httplib::Request& req,
                                                 httplib::Response& res) {
      auto started = std::chrono::steady_clock::now();
      bool mutating = method != "GET" && record == Record::kAudited;
      Caller caller;
      caller.source = req.remote_addr;
      caller.method = req.method;
      caller.path = req.path;
      Result<User> user = Authenticate(req);
      Reply reply;
      if (!user) {
        reply = {401, ErrorBody(user.error())};
        Audit(req, "anonymous", caller.source, false, reply.status, user.error().message);
      } else {
        caller.user = std::move(*user);
        Result<Reply> result = handler(req, caller);
        reply = result ? std::move(*result)
                       : Reply{HttpStatusOf(result.error().code), ErrorBody(result.error())};
        bool allowed = reply.status != 401 && reply.status != 403;
        if ((mutating || !allowed) && !caller.audited) {
          std::string detail = result ? "ok" : result.error().message;
          Audit(req, caller.user.name, caller.source, allowed, reply.status, detail);
        }
        if (result && mutating && reply.status < 300 && options_.on_change) options_.on_change();
      }
      res.status = reply.status;
      if (reply.stream) {
        res.set_chunked_content_provider(reply.content_type, reply.stream);
      } else if (!reply.content_type.empty()) {
        res.set_content(reply.raw, reply.content_type);
      } else {
        res.set_content(reply.body.dump(), "application/json");
      }
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      metrics_.Observe("allot_api_request_duration_seconds",
                       {method, route, std::to_string(reply.status)}, took.count());
    };
    if (std::string(method) == "GET") server_.Get(pattern, wrapped);
    if (std::string(method) == "POST") server_.Post(pattern, wrapped);
    if (std::string(method) == "PUT") server_.Put(pattern, wrapped);
    if (std::string(method) == "PATCH") server_.Patch(pattern, wrapped);
    if (std::string(method) == "DELETE") server_.Delete(pattern, wrapped);
  }

  // A route's pattern as a metrics label: "/api/v1/workloads/([^/]+)/logs"
  // -> "/api/v1/workloads/{}/logs" (one series per route, not per name).
  static std::string RouteLabel(const std::string& pattern) {
    std::string label;
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] != '(') {
        label += pattern[i];
        continue;
      }
      size_t close = pattern.find(')', i);
      if (close == std::string::npos) break;
      label += "{}";
      i = close;
    }
    return label;
  }

  void Audit(const httplib::Request& req, const std::string& actor, const std::string& source,
             bool allowed, int status, const std::string& detail) {
    (void)store_.AppendAudit(
        {0, options_.now_ms(), actor, source, req.method, req.path, allowed, status, detail});
  }

  // Commits a request's writes with its audit entry (allowed, `status`),
  // one transaction and one sync for both.
  Result<int64_t> CommitAudited(const Caller& caller, const std::vector<Write>& writes,
                                int32_t status) {
    store::AuditEntry entry{0,
                            options_.now_ms(),
                            caller.user.name,
                            caller.source,
                            caller.method,
                            caller.path,
                            true,
                            status,
                            "ok"};
    Result<int64_t> revision = store_.CommitAudited(writes, entry);
    if (revision) caller.audited = true;
    return revision;
  }

  Result<User> Authenticate(const httplib::Request& req) {
    std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.rfind(prefix, 0) != 0) {
      return Error::Coded("unauthenticated",
                          "no bearer token: send 'Authorization: Bearer <token>' (allot login)");
    }
    std::string text = header.substr(prefix.size());
    if (text.rfind(kJoinTokenPrefix, 0) == 0) return agents_.AuthenticateJoinToken(text);
    auto parts = SplitToken(text);
    Error refused = Error::Coded("unauthenticated", "the token is not valid: log in again");
    if (!parts) return refused;
    Result<store::Object> stored = store_.Get("tokens", parts->first);
    if (!stored) return refused;
    Result<TokenRecord> token = DecodeToken(stored->body);
    if (!token || !ConstantTimeEquals(token->secret_hash, Sha256Hex(parts->second))) {
      return refused;
    }
    if (std::string agent = AgentIdOf(token->user); !agent.empty()) {
      // A node agent: no roles, only its own nodes' routes.
      User user;
      user.name = token->user;
      user.agent = agent;
      return user;
    }
    return LoadUser(token->user);
  }

  Result<User> LoadUser(const std::string& name) {
    Result<store::Object> stored = store_.Get("users", name);
    if (!stored) return Error::Coded("unauthenticated", "the token's user no longer exists");
    return DecodeUser(json::parse(stored->body));
  }

  // The scope of a project: itself and its department.
  // The scope of `project` as `user`'s roles need it: the departments above
  // the project's own are read (one store read each) only when the user
  // holds a department binding that could be one of them.
  Result<Scope> ProjectScope(const std::string& project, const User& user) {
    Result<store::Object> stored = store_.Get("projects", project);
    if (!stored) {
      return Error::Coded(
          "not_found", "project '" + project + "' does not exist: see allot quota get", "project");
    }
    std::string department = json::parse(stored->body).value("department", "");
    bool above_matters = false;
    for (const auto& binding : user.roles) {
      above_matters =
          above_matters || (binding.role != Role::kAdmin && binding.project.empty() &&
                            !binding.department.empty() && binding.department != department);
    }
    Result<Scope> scope =
        above_matters ? DepartmentScope(department) : Result<Scope>(Scope{department, "", {}});
    if (!scope) return scope.error();
    scope->project = project;
    return scope;
  }

  // The scope of department `name`: it and the departments above it.
  Result<Scope> DepartmentScope(const std::string& name, const std::string& field = "department") {
    Scope scope{name, "", {}};
    std::string at = name;
    // The tree is checked acyclic on every change; the bound only guards
    // against a store edited by hand.
    for (int depth = 0; depth < 64 && !at.empty(); ++depth) {
      Result<store::Object> stored = store_.Get("departments", at);
      if (!stored) {
        return Error::Coded("not_found",
                            "department '" + at + "' does not exist: see allot quota get", field);
      }
      at = json::parse(stored->body).value("parent", "");
      if (!at.empty()) scope.above.push_back(at);
    }
    return scope;
  }

  // Who may create, change or delete a queue: a project's quota is set
  // within its department (kSetQuota there), a department's within its
  // parent's, and a top-level department's by admins (kAdminister).
  Result<Scope> QueueScope(const core::QueueSpec& spec, bool is_project, Access& access) {
    if (is_project || !spec.parent.empty()) {
      access = Access::kSetQuota;
      return DepartmentScope(spec.parent, is_project ? "department" : "parent");
    }
    access = Access::kAdminister;
    return Scope{};
  }

  static Result<json> Body(const httplib::Request& req) { return ParseJsonObject(req.body); }

  // GET lists: ?limit=&after=, plus equality filters on the given fields.
  Result<Reply> List(const httplib::Request& req, const std::string& kind,
                     const std::vector<std::string>& filters,
                     const std::function<bool(const json&)>& visible) {
    store::ListQuery query;
    query.kind = kind;
    query.after = req.get_param_value("after");
    if (req.has_param("limit")) {
      try {
        query.limit = std::stoll(req.get_param_value("limit"));
      } catch (const std::exception&) {
        query.limit = -1;
      }
      if (query.limit < 1 || query.limit > 1000) {
        return Error::Coded("invalid", "limit: use a whole number from 1 to 1000", "limit");
      }
    }
    for (const auto& field : filters) {
      if (req.has_param(field)) query.equals.emplace_back(field, req.get_param_value(field));
    }
    Result<store::Page> page = store_.List(query);
    if (!page) return page.error();
    // The stored bodies are JSON already: they are spliced into the reply,
    // not parsed and written again (a page of 1,000 costs a tenth).
    std::string out = "{\"items\":[";
    bool first = true;
    for (const auto& object : page->items) {
      if (visible && !visible(json::parse(object.body))) continue;
      if (!first) out += ',';
      first = false;
      AppendWithRevision(out, object.body, object.revision);
    }
    out += "],\"revision\":" + std::to_string(page->revision) + ",\"next\":";
    out += page->more ? json(page->items.back().name).dump() : "null";
    out += '}';
    return Reply::Raw(std::move(out), "application/json");
  }

  // `body` (a JSON object) with "revision" added, appended to `out`.
  static void AppendWithRevision(std::string& out, const std::string& body, int64_t revision) {
    size_t close = body.rfind('}');
    out.append(body, 0, close);
    if (body.find_first_not_of(" \t\r\n", 1) != close) out += ',';
    out += "\"revision\":" + std::to_string(revision) + "}";
  }

  Result<Reply> GetOne(const std::string& kind, const std::string& name) {
    Result<store::Object> stored = store_.Get(kind, name);
    if (!stored) return stored.error();
    json body = json::parse(stored->body);
    body["revision"] = stored->revision;
    return Reply{200, body};
  }

  // Checks the quota tree with `changed` put in place (or removed when
  // `removed`), by the scheduler core's own validation.
  Status CheckQuotaTree(const core::QueueSpec& changed, bool is_project, bool removed) {
    core::Snapshot tree;
    for (const char* kind : {"departments", "projects"}) {
      store::ListQuery query{kind, "", 1000000, {}};
      Result<store::Page> page = store_.List(query);
      if (!page) return page.error();
      bool projects = std::string(kind) == "projects";
      for (const auto& object : page->items) {
        auto queue = DecodeQueue(json::parse(object.body), projects);
        if (!queue) return queue.error();
        if (projects == is_project && queue->spec.name == changed.name) continue;
        tree.queues.push_back(SchedulerQueue(queue->spec, projects));
      }
    }
    if (!removed) tree.queues.push_back(SchedulerQueue(changed, is_project));
    Status valid = core::ValidateSnapshot(tree);
    if (!valid) {
      std::string message = valid.error().message;
      return Error::Coded("invalid", message, "deserved");
    }
    return Status::Ok();
  }

  // Whether `caller` may put `spec` in the tree: allowed where it goes (and,
  // for a change, where it was), its department or parent existing, and a
  // department never moved below itself.
  Status MayChangeQueue(const Caller& caller, const core::QueueSpec& spec, bool is_project,
                        bool create) {
    const char* kind = is_project ? "projects" : "departments";
    std::vector<core::QueueSpec> places = {spec};
    if (!create) {
      Result<store::Object> stored = store_.Get(kind, spec.name);
      if (!stored) return stored.error();
      auto before = DecodeQueue(json::parse(stored->body), is_project);
      if (!before) return before.error();
      if (before->spec.parent != spec.parent) places.push_back(before->spec);
    }
    for (const core::QueueSpec& place : places) {
      Access access = Access::kAdminister;
      Result<Scope> scope = QueueScope(place, is_project, access);
      if (!scope) return scope.error();
      if (!Allows(caller.user, access, *scope)) {
        return Forbidden(std::string(create ? "creating " : "changing ") + kind + " here");
      }
      if (!is_project && scope->WithinDepartment(spec.name)) {
        return Error::Coded("invalid",
                            "parent: '" + spec.parent + "' is inside department '" + spec.name +
                                "': a department cannot move below itself",
                            "parent");
      }
    }
    return Status::Ok();
  }

  Result<Reply> PutQueue(const httplib::Request& req, const Caller& caller, bool is_project,
                         bool create) {
    const char* kind = is_project ? "projects" : "departments";
    Result<json> body = Body(req);
    if (!body) return body.error();
    Result<QueueResource> queue = DecodeQueue(*body, is_project);
    if (!queue) return queue.error();
    if (!create && queue->spec.name != PathName(req)) {
      return Error::Coded("invalid", "name: the body's name must match the path", "name");
    }
    std::lock_guard lock(tree_mutex_);  // one quota-tree change at a time
    if (Status s = MayChangeQueue(caller, queue->spec, is_project, create); !s) return s.error();
    if (Status s = CheckQuotaTree(queue->spec, is_project, false); !s) return s.error();
    Result<int64_t> revision =
        CommitAudited(caller,
                      {{create ? Op::kCreate : Op::kUpdate, kind, queue->spec.name,
                        EncodeQueue(*queue, is_project).dump(), 0}},
                      create ? 201 : 200);
    if (!revision) return revision.error();
    json out = EncodeQueue(*queue, is_project);
    out["revision"] = *revision;
    return Reply{create ? 201 : 200, out};
  }

  Result<Reply> DeleteQueue(const httplib::Request& req, const Caller& caller, bool is_project) {
    const char* kind = is_project ? "projects" : "departments";
    std::string name = PathName(req);
    Result<store::Object> stored = store_.Get(kind, name);
    if (!stored) return stored.error();
    auto queue = DecodeQueue(json::parse(stored->body), is_project);
    if (!queue) return queue.error();
    Access access = Access::kAdminister;
    Result<Scope> scope = QueueScope(queue->spec, is_project, access);
    if (!scope) return scope.error();
    if (!Allows(caller.user, access, *scope)) {
      return Forbidden(std::string("deleting ") + kind + " here");
    }
    std::lock_guard lock(tree_mutex_);
    std::vector<std::pair<std::string, std::string>> children_of =
        is_project ? std::vector<std::pair<std::string, std::string>>{{"workloads", "project"}}
                   : std::vector<std::pair<std::string, std::string>>{{"projects", "department"},
                                                                      {"departments", "parent"}};
    for (const auto& [child_kind, link] : children_of) {
      Result<store::Page> children = store_.List({child_kind, "", 1, {{link, name}}});
      if (!children) return children.error();
      if (!children->items.empty()) {
        return Error::Coded("conflict",
                            std::string(kind) + " '" + name + "' still has " + child_kind +
                                " (for example '" + children->items[0].name +
                                "'): delete them first",
                            "name");
      }
    }
    Result<int64_t> revision = CommitAudited(caller, {{Op::kDelete, kind, name, "", 0}}, 200);
    if (!revision) return revision.error();
    return Reply{200, {{"deleted", name}, {"revision", *revision}}};
  }

  Result<Reply> Submit(const httplib::Request& req, const Caller& caller) {
    Result<json> body = Body(req);
    if (!body) return body.error();
    Result<WorkloadResource> workload = DecodeWorkloadSubmission(*body);
    if (!workload) return workload.error();
    Result<Scope> scope = ProjectScope(workload->spec.queue, caller.user);
    if (!scope) return scope.error();
    if (!Allows(caller.user, Access::kSubmit, *scope)) {
      return Forbidden("submitting to project '" + workload->spec.queue + "'");
    }
    bool sets_priority = workload->priority_given &&
                         workload->spec.priority != core::DefaultsFor(workload->spec.kind).priority;
    if (sets_priority && !Allows(caller.user, Access::kManageOthers, *scope)) {
      return Forbidden("setting a priority in project '" + workload->spec.queue +
                       "' (project admins set priorities): drop priority");
    }
    workload->owner = caller.user.name;
    workload->status = WorkloadStatus::kPending;
    workload->created_ms = options_.now_ms();
    json encoded = EncodeWorkload(*workload);
    Result<int64_t> revision = CommitAudited(
        caller, {{Op::kCreate, "workloads", workload->spec.name, encoded.dump(), 0}}, 201);
    if (!revision) return revision.error();
    encoded["revision"] = *revision;
    return Reply{201, encoded};
  }

  // A stored workload with the revision it was read at and its project's
  // scope (for the role checks).
  struct StoredWorkload {
    WorkloadResource workload;
    int64_t revision = 0;
    Scope scope;
  };
  Result<StoredWorkload> LoadWorkload(const std::string& name, const User& user) {
    Result<store::Object> stored = store_.Get("workloads", name);
    if (!stored) return stored.error();
    Result<WorkloadResource> workload = DecodeStoredWorkload(stored->body);
    if (!workload) return workload.error();
    Result<Scope> scope = ProjectScope(workload->spec.queue, user);
    if (!scope) return scope.error();
    return StoredWorkload{std::move(*workload), stored->revision, std::move(*scope)};
  }

  Result<Reply> DeleteWorkload(const httplib::Request& req, const Caller& caller) {
    std::string name = PathName(req);
    Result<StoredWorkload> stored = LoadWorkload(name, caller.user);
    if (!stored) return stored.error();
    WorkloadResource* workload = &stored->workload;
    bool own = workload->owner == caller.user.name;
    if (!Allows(caller.user, own ? Access::kManageOwn : Access::kManageOthers, stored->scope)) {
      return Forbidden("deleting workload '" + name + "'");
    }
    // The record stays, marked deleted, so that describe and audit can
    // still show it; the scheduling loop releases its GPUs.
    server::EndWorkload(*workload, WorkloadStatus::kDeleted, "deleted by " + caller.user.name);
    Result<int64_t> revision = CommitAudited(
        caller,
        {{Op::kUpdate, "workloads", name, EncodeWorkload(*workload).dump(), stored->revision}},
        200);
    if (!revision) return revision.error();
    return Reply{200, {{"deleted", name}, {"revision", *revision}}};
  }

  Result<Reply> PutNode(const httplib::Request& req, const Caller& caller) {
    if (!Allows(caller.user, Access::kAdminister, {})) return Forbidden("registering nodes");
    Result<json> body = Body(req);
    if (!body) return body.error();
    Result<NodeResource> node = DecodeNode(*body);
    if (!node) return node.error();
    if (!node->agent.empty() || !node->logs_url.empty()) {
      return Error::Coded("invalid",
                          "agent and logs_url are set when an agent registers (allot agent): "
                          "drop them",
                          node->agent.empty() ? "logs_url" : "agent");
    }
    json encoded = EncodeNode(*node);
    Result<int64_t> revision =
        CommitAudited(caller, {{Op::kCreate, "nodes", node->spec.name, encoded.dump(), 0}}, 201);
    if (!revision) return revision.error();
    encoded["revision"] = *revision;
    return Reply{201, encoded};
  }

  Result<Reply> CreateUser(const httplib::Request& req, const Caller& caller) {
    Result<json> body = Body(req);
    if (!body) return body.error();
    Result<User> user = DecodeUser(*body);
    if (!user) return user.error();
    for (const auto& binding : user->roles) {
      Result<Scope> scope = !binding.project.empty() ? ProjectScope(binding.project, caller.user)
                            : !binding.department.empty() ? DepartmentScope(binding.department)
                                                          : Result<Scope>(Scope{});
      if (!scope) return scope.error();
      if (!MayGrant(caller.user, binding, *scope)) {
        return Forbidden(std::string("granting the role ") + RoleName(binding.role) + " there");
      }
    }
    if (user->roles.empty() && !Allows(caller.user, Access::kAdminister, {})) {
      return Forbidden("creating users without roles");
    }
    json encoded = EncodeUser(*user);
    Result<int64_t> revision =
        CommitAudited(caller, {{Op::kCreate, "users", user->name, encoded.dump(), 0}}, 201);
    if (!revision) return revision.error();
    return Reply{201, encoded};
  }

  Result<Reply> CreateToken(const httplib::Request& req, const Caller& caller) {
    Result<json> body = Body(req);
    if (!body) return body.error();
    JsonReader reader(*body);
    std::string user = caller.user.name;
    if (Status s = reader.String("user", user); !s) return s.error();
    if (Status s = reader.Finish(); !s) return s.error();
    if (user != caller.user.name && !Allows(caller.user, Access::kAdminister, {})) {
      return Forbidden("issuing tokens for other users");
    }
    if (!store_.Get("users", user)) {
      return Error::Coded("not_found", "user '" + user + "' does not exist", "user");
    }
    Result<NewToken> token = IssueToken(user, options_.now_ms());
    if (!token) return token.error();
    Result<int64_t> revision = CommitAudited(
        caller, {{Op::kCreate, "tokens", token->record.id, EncodeToken(token->record).dump(), 0}},
        201);
    if (!revision) return revision.error();
    return Reply{201,
                 {{"id", token->record.id},
                  {"user", user},
                  {"token", token->text},
                  {"note", "shown once: store it now (allot login --token)"}}};
  }

  Result<Reply> ListAudit(const httplib::Request& req, const Caller& caller) {
    if (!Allows(caller.user, Access::kAdminister, {})) return Forbidden("reading the audit log");
    store::AuditQuery query;
    try {
      if (req.has_param("after")) query.after_id = std::stoll(req.get_param_value("after"));
      if (req.has_param("limit")) query.limit = std::stoll(req.get_param_value("limit"));
    } catch (const std::exception&) {
      return Error::Coded("invalid", "after and limit must be whole numbers", "after");
    }
    query.actor = req.get_param_value("actor");
    std::string order = req.has_param("order") ? req.get_param_value("order") : "oldest";
    if (order != "oldest" && order != "newest") {
      return Error::Coded("invalid", "order: use oldest (to page on with after) or newest",
                          "order");
    }
    query.newest_first = order == "newest";
    std::string format = req.has_param("format") ? req.get_param_value("format") : "json";
    if (format != "json" && format != "jsonl") {
      return Error::Coded("invalid", "format: use json or jsonl", "format");
    }
    if (query.limit < 1 || query.limit > 10000) {
      return Error::Coded("invalid", "limit: use a whole number from 1 to 10000", "limit");
    }
    auto entries = store_.ListAudit(query);
    if (!entries) return entries.error();
    json items = json::array();
    for (const auto& e : *entries) {
      items.push_back({{"id", e.id},
                       {"time_ms", e.time_ms},
                       {"actor", e.actor},
                       {"source", e.source},
                       {"method", e.method},
                       {"path", e.path},
                       {"allowed", e.allowed},
                       {"status", e.status},
                       {"detail", e.detail}});
    }
    if (format == "jsonl") {
      // One entry per line; page on with after = the last line's id.
      std::string lines;
      for (const auto& item : items) lines.append(item.dump()).append("\n");
      return Reply::Raw(std::move(lines), "application/x-ndjson");
    }
    json next = entries->size() == static_cast<size_t>(query.limit) ? json(entries->back().id)
                                                                    : json(nullptr);
    return Reply{200, {{"items", items}, {"next", next}}};
  }

  // PATCH a workload: its priority, which project admins set.
  Result<Reply> PatchWorkload(const httplib::Request& req, const Caller& caller) {
    std::string name = PathName(req);
    Result<json> body = Body(req);
    if (!body) return body.error();
    JsonReader reader(*body);
    int32_t priority = -1;
    if (Status s = reader.Int32("priority", priority, 0, 1000); !s) return s.error();
    if (Status s = reader.Finish(); !s) return s.error();
    if (priority < 0) {
      return Error::Coded("invalid", "priority: give the new priority (0 to 1000)", "priority");
    }
    Result<StoredWorkload> stored = LoadWorkload(name, caller.user);
    if (!stored) return stored.error();
    WorkloadResource* workload = &stored->workload;
    if (!Allows(caller.user, Access::kManageOthers, stored->scope)) {
      return Forbidden("setting priorities in project '" + workload->spec.queue +
                       "' (project admins set priorities)");
    }
    if (!IsActive(workload->status)) {
      return Error::Coded("conflict",
                          "workload '" + name + "' is " + StatusName(workload->status) +
                              ": only pending or running work can change priority",
                          "priority");
    }
    workload->spec.priority = priority;
    json encoded = EncodeWorkload(*workload);
    Result<int64_t> revision = CommitAudited(
        caller, {{Op::kUpdate, "workloads", name, encoded.dump(), stored->revision}}, 200);
    if (!revision) return revision.error();
    encoded["revision"] = *revision;
    return Reply{200, encoded};
  }

  Result<Reply> DeleteNode(const httplib::Request& req, const Caller& caller) {
    if (!Allows(caller.user, Access::kAdminister, {})) return Forbidden("removing nodes");
    std::string name = PathName(req);
    // Tasks bound to the node are evicted by the next scheduling cycle.
    Result<int64_t> revision = CommitAudited(caller, {{Op::kDelete, "nodes", name, "", 0}}, 200);
    if (!revision) return revision.error();
    return Reply{200, {{"deleted", name}, {"revision", *revision}}};
  }

  // Long-polls the change log: the changes after `since` that the caller
  // may read, as soon as there is one, or none after `timeout_s`.
  Result<Reply> Watch(const httplib::Request& req, const Caller& caller) {
    int64_t since = -1;
    int64_t timeout_s = 30;
    try {
      if (req.has_param("since")) since = std::stoll(req.get_param_value("since"));
      if (req.has_param("timeout_s")) timeout_s = std::stoll(req.get_param_value("timeout_s"));
    } catch (const std::exception&) {
      return Error::Coded("invalid", "since and timeout_s must be whole numbers", "since");
    }
    if (since < 0) {
      return Error::Coded("invalid",
                          "since: give the revision of a list (or of the previous watch reply)",
                          "since");
    }
    if (timeout_s < 0 || timeout_s > 60) {
      return Error::Coded("invalid", "timeout_s: use 0 to 60 seconds", "timeout_s");
    }
    std::string kind = req.get_param_value("kind");
    static const std::vector<std::string> kWatchable = {
        "departments", "projects", "workloads", "nodes", "events", "status", "samples", "users"};
    if (!kind.empty() &&
        std::find(kWatchable.begin(), kWatchable.end(), kind) == kWatchable.end()) {
      return Error::Coded("invalid",
                          "kind: use departments, projects, workloads, nodes, events, status, "
                          "samples or users",
                          "kind");
    }
    if (kind == "users" && !Allows(caller.user, Access::kAdminister, {})) {
      return Forbidden("watching users");
    }
    bool admin = Allows(caller.user, Access::kAdminister, {});
    Result<std::function<bool(const json&)>> visible = WorkloadsVisibleTo(caller);
    if (!visible) return visible.error();
    auto& readable = *visible;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    json items = json::array();
    for (;;) {
      Result<std::vector<store::Change>> changes = store_.ChangesSince(since, 1000);
      if (!changes) return changes.error();
      for (const auto& change : *changes) {
        since = change.revision;
        if (IsSecretKind(change.kind) || (change.kind == "users" && !admin)) continue;
        if (!kind.empty() && change.kind != kind) continue;
        json object = json::parse(change.body, nullptr, false);
        bool by_project = change.kind == "workloads" || change.kind == "events";
        if (by_project && readable && !readable(object)) continue;
        if (!caller.user.agent.empty() && change.kind != "workloads" && change.kind != "nodes") {
          continue;
        }
        object["revision"] = change.revision;
        items.push_back({{"type", change.deleted ? "deleted" : "changed"},
                         {"kind", change.kind},
                         {"revision", change.revision},
                         {"object", std::move(object)}});
      }
      if (!items.empty() || changes->size() == 1000) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || stopping_) break;
      // Then one more look; in slices, so that a stopping server ends the wait.
      store_.WaitForChange(since, std::min(left, std::chrono::milliseconds(1000)));
    }
    // `revision`: where the caller watches on from, past what it may not see.
    return Reply{200, {{"items", items}, {"revision", since}}};
  }

  // Kinds never served: credentials and agents' records.
  static bool IsSecretKind(const std::string& kind) {
    return kind == "tokens" || kind == "join_tokens" || kind == "agents";
  }

  // A filter for workloads (and events) the caller may see; empty when it
  // sees everything. An agent sees the workloads whose tasks name one of its
  // nodes, now or as their previous node (so that it stops what moved away).
  Result<std::function<bool(const json&)>> WorkloadsVisibleTo(const Caller& caller) {
    if (caller.user.agent.empty()) return ReadableByProject(caller);
    Result<std::set<std::string>> nodes = agents_.NodesOf(caller.user.agent);
    if (!nodes) return nodes.error();
    return std::function<bool(const json&)>([nodes = std::move(*nodes)](const json& workload) {
      return NamesAnyNode(workload, nodes);
    });
  }

  // Readings older than this are not shown as a workload's present.
  static constexpr int64_t kFreshUsageMs = 60000;

  static json EncodeUsageSummary(const WorkloadUsageSummary& summary) {
    return {{"project", summary.project},
            {"time_ms", summary.time_ms},
            {"gpu_utilization", summary.utilization},
            {"gpu_memory_used", FormatMebibytes(summary.memory_mib)},
            {"idle_since_ms", summary.idle_since_ms > 0 ? json(summary.idle_since_ms) : json()}};
  }

  // Whether the caller may read a workload of `project`.
  bool MayRead(const Caller& caller, const std::string& project) {
    if (Allows(caller.user, Access::kRead, {})) return true;
    Result<Scope> scope = ProjectScope(project, caller.user);
    return scope && Allows(caller.user, Access::kRead, *scope);
  }

  // A filter for list items by their "project": each project's access is
  // looked up once per request, not once per item. Empty when the caller
  // reads everything.
  std::function<bool(const json&)> ReadableByProject(const Caller& caller) {
    if (Allows(caller.user, Access::kRead, {})) return nullptr;
    auto known = std::make_shared<std::map<std::string, bool>>();
    return [this, &caller, known](const json& item) {
      std::string project = item.value("project", "");
      auto found = known->find(project);
      if (found == known->end()) found = known->emplace(project, MayRead(caller, project)).first;
      return found->second;
    };
  }

  // The dashboard's files, without a token (the data they show needs one).
  void DashboardRoutes() {
    const std::vector<WebAsset>& assets = WebAssets();
    if (assets.empty()) {
      server_.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.status = 404;
        res.set_content(ErrorBody(Error::Coded("not_found",
                                               "this allot was built without the dashboard: "
                                               "install Node.js and the web packages "
                                               "(scripts/dev.sh deps), then build again"))
                            .dump(),
                        "application/json");
      });
      return;
    }
    for (const WebAsset& asset : assets) {
      auto serve = [&asset](const httplib::Request&, httplib::Response& res) {
        // The page is small and changes with the server: always revalidate.
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_content(asset.body.data(), asset.body.size(), asset.content_type);
      };
      server_.Get(asset.path, serve);
      if (std::string_view(asset.path) == "/index.html") server_.Get("/", serve);
    }
  }

  void Routes() {
    server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    server_.Get("/api/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kOpenApiDocument, "application/json");
    });
    DashboardRoutes();
    const std::function<bool(const json&)> anyone;  // empty: every item is visible
    for (bool is_project : {false, true}) {
      std::string base = is_project ? "/api/v1/projects" : "/api/v1/departments";
      std::string kind = is_project ? "projects" : "departments";
      std::vector<std::string> filters;
      if (is_project) filters.push_back("department");
      Route("GET", base, [this, kind, filters, anyone](const auto& req, const Caller&) {
        return List(req, kind, filters, anyone);
      });
      Route("GET", base + "/([^/]+)",
            [this, kind](const auto& req, const Caller&) { return GetOne(kind, PathName(req)); });
      Route("POST", base, [this, is_project](const auto& req, const Caller& caller) {
        return PutQueue(req, caller, is_project, true);
      });
      Route("PUT", base + "/([^/]+)", [this, is_project](const auto& req, const Caller& caller) {
        return PutQueue(req, caller, is_project, false);
      });
      Route("DELETE", base + "/([^/]+)", [this, is_project](const auto& req, const Caller& caller) {
        return DeleteQueue(req, caller, is_project);
      });
    }
    Route("GET", "/api/v1/workloads", [this](const auto& req, const Caller& caller) {
      Result<std::function<bool(const json&)>> visible = WorkloadsVisibleTo(caller);
      if (!visible) return Result<Reply>(visible.error());
      return List(req, "workloads", {"project", "status", "owner"}, *visible);
    });
    Route("GET", "/api/v1/workloads/([^/]+)", [this](const auto& req, const Caller& caller) {
      Result<Reply> reply = GetOne("workloads", PathName(req));
      if (reply && !MayRead(caller, reply->body.value("project", ""))) {
        return Result<Reply>(Forbidden("reading this workload"));
      }
      return reply;
    });
    Route("POST", "/api/v1/workloads",
          [this](const auto& req, const Caller& caller) { return Submit(req, caller); });
    Route("DELETE", "/api/v1/workloads/([^/]+)",
          [this](const auto& req, const Caller& caller) { return DeleteWorkload(req, caller); });
    Route("GET", "/api/v1/nodes", [this, anyone](const auto& req, const Caller&) {
      return List(req, "nodes", {"pool", "state"}, anyone);
    });
    Route("GET", "/api/v1/samples", [this, anyone](const auto& req, const Caller&) {
      return List(req, "samples", {}, anyone);
    });
    Route("GET", "/api/v1/nodes/([^/]+)",
          [this](const auto& req, const Caller&) { return GetOne("nodes", PathName(req)); });
    Route("POST", "/api/v1/nodes",
          [this](const auto& req, const Caller& caller) { return PutNode(req, caller); });
    Route("GET", "/api/v1/users", [this](const auto& req, const Caller& caller) {
      if (!Allows(caller.user, Access::kAdminister, {})) {
        return Result<Reply>(Forbidden("listing users"));
      }
      return List(req, "users", {}, nullptr);
    });
    Route("GET", "/api/v1/users/([^/]+)", [this](const auto& req, const Caller& caller) {
      std::string name = PathName(req);
      if (name != caller.user.name && !Allows(caller.user, Access::kAdminister, {})) {
        return Result<Reply>(Forbidden("reading other users"));
      }
      return GetOne("users", name);
    });
    Route("POST", "/api/v1/users",
          [this](const auto& req, const Caller& caller) { return CreateUser(req, caller); });
    Route("POST", "/api/v1/tokens",
          [this](const auto& req, const Caller& caller) { return CreateToken(req, caller); });
    Route("GET", "/api/v1/audit",
          [this](const auto& req, const Caller& caller) { return ListAudit(req, caller); });
    Route("GET", "/api/v1/events", [this](const auto& req, const Caller& caller) {
      return List(req, "events", {"workload", "project"}, ReadableByProject(caller));
    });
    Route("PATCH", "/api/v1/workloads/([^/]+)",
          [this](const auto& req, const Caller& caller) { return PatchWorkload(req, caller); });
    Route("DELETE", "/api/v1/nodes/([^/]+)",
          [this](const auto& req, const Caller& caller) { return DeleteNode(req, caller); });
    Route("GET", "/api/v1/whoami", [](const auto&, const Caller& caller) -> Result<Reply> {
      return Reply{200, EncodeUser(caller.user)};
    });
    Route("GET", "/api/v1/watch",
          [this](const auto& req, const Caller& caller) { return Watch(req, caller); });
    Route("POST", "/api/v1/join-tokens", [this](const auto& req, const Caller& caller) {
      return agents_.CreateJoinToken(req, caller);
    });
    Route("POST", "/api/v1/agents/register",
          [this](const auto& req, const Caller& caller) { return agents_.Register(req, caller); });
    Route(
        "PUT", "/api/v1/nodes/([^/]+)/heartbeat",
        [this](const auto& req, const Caller& caller) { return agents_.Heartbeat(req, caller); },
        Record::kQuiet);
    Route(
        "PUT", "/api/v1/workloads/([^/]+)/tasks/([0-9]+)/status",
        [this](const auto& req, const Caller& caller) {
          return agents_.ReportTaskStatus(req, caller);
        },
        Record::kQuiet);
    Route("GET", "/api/v1/workloads/([^/]+)/logs", [this](const auto& req, const Caller& caller) {
      return agents_.Logs(req, caller,
                          [&](const std::string& project) { return MayRead(caller, project); });
    });
    Route("GET", "/metrics", [this](const auto&, const Caller& caller) -> Result<Reply> {
      if (!Allows(caller.user, Access::kRead, {})) {
        return Forbidden(
            "reading metrics (they name every project: give the scraper a token "
            "of a cluster-wide viewer)");
      }
      return Reply::Raw(metrics_.Render() + ClusterMetricsText(store_, liveness_, workload_usage_,
                                                               options_.now_ms()),
                        "text/plain; version=0.0.4");
    });
    Route("GET", "/api/v1/usage", [this](const auto&, const Caller& caller) -> Result<Reply> {
      json workloads = json::object();
      int64_t now = options_.now_ms();
      std::function<bool(const json&)> readable = ReadableByProject(caller);
      for (const auto& [name, summary] : workload_usage_.Summaries(now - kFreshUsageMs)) {
        if (readable && !readable(json{{"project", summary.project}})) continue;
        workloads[name] = EncodeUsageSummary(summary);
      }
      json nodes = json::object();
      for (const auto& [node, gpus] : liveness_.Usage()) {
        json list = json::array();
        for (const GpuUsageSample& gpu : gpus) {
          list.push_back({{"index", gpu.index},
                          {"memory_used", FormatMebibytes(gpu.memory_used_mib)},
                          {"utilization", gpu.utilization_percent}});
        }
        nodes[node] = std::move(list);
      }
      return Reply{200, {{"nodes", nodes}, {"workloads", workloads}}};
    });
    Route("GET", "/api/v1/workloads/([^/]+)/usage",
          [this](const auto& req, const Caller& caller) -> Result<Reply> {
            std::string name = PathName(req);
            Result<StoredWorkload> stored = LoadWorkload(name, caller.user);
            if (!stored) return stored.error();
            if (!MayRead(caller, stored->workload.spec.queue)) {
              return Forbidden("reading this workload");
            }
            json points = json::array();
            for (const UsagePoint& point : workload_usage_.Points(name)) {
              points.push_back({{"time_ms", point.time_ms},
                                {"task", point.task},
                                {"gpu_utilization", point.utilization},
                                {"gpu_memory_used", FormatMebibytes(point.memory_mib)}});
            }
            int64_t idle_since = workload_usage_.IdleSince(name);
            return Reply{200,
                         {{"workload", name},
                          {"points", points},
                          {"idle_since_ms", idle_since > 0 ? json(idle_since) : json(nullptr)}}};
          });
    Route("GET", "/api/v1/cluster", [this](const auto&, const Caller&) -> Result<Reply> {
      Result<store::Object> stored = store_.Get("status", "cluster");
      if (!stored) {
        return Error::Coded("not_found",
                            "no scheduling cycle has run yet: the status appears within seconds");
      }
      json body = json::parse(stored->body);
      body["revision"] = stored->revision;
      return Reply{200, body};
    });
  }

  static constexpr int kListenBacklog = 1024;

  store::Store& store_;
  ApiOptions options_;
  NodeLiveness own_liveness_;
  NodeLiveness& liveness_;
  MetricsRegistry own_metrics_;
  MetricsRegistry& metrics_;
  WorkloadUsage own_workload_usage_;
  WorkloadUsage& workload_usage_;
  AgentRoutes agents_;
  httplib::Server server_;
  socket_t listen_socket_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex tree_mutex_;
};

HttpApi::HttpApi(store::Store& store, ApiOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}
HttpApi::~HttpApi() = default;
Result<int> HttpApi::Bind(const std::string& host, int port) {
  return impl_->Bind(host, port);
}
void HttpApi::Serve() {
  impl_->Serve();
}
void HttpApi::Stop() {
  impl_->Stop();
}

Result<std::string> BootstrapAdmin(store::Store& store, int64_t now_ms) {
  Result<store::Page> users = store.List({"users", "", 1, {}});
  if (!users) return users.error();
  if (!users->items.empty()) return std::string();
  User admin{"admin", {RoleBinding{Role::kAdmin, "", ""}}, "", ""};
  Result<NewToken> token = IssueToken(admin.name, now_ms);
  if (!token) return token.error();
  Result<int64_t> revision = store.Commit(
      {{Op::kCreate, "users", admin.name, EncodeUser(admin).dump(), 0},
       {Op::kCreate, "tokens", token->record.id, EncodeToken(token->record).dump(), 0}});
  if (!revision) return revision.error();
  return token->text;
}

Status BootstrapDefaultProject(store::Store& store, int64_t deserved_gpu_milli) {
  Result<store::Page> departments = store.List({"departments", "", 1, {}});
  if (!departments) return departments.error();
  if (!departments->items.empty()) return Status::Ok();
  QueueResource department;
  department.spec.name = "default";
  department.spec.deserved[core::Resource::kGpu] = deserved_gpu_milli;
  QueueResource project = department;
  project.spec.parent = "default";
  Result<int64_t> revision = store.Commit(
      {{Op::kCreate, "departments", "default", EncodeQueue(department, false).dump(), 0},
       {Op::kCreate, "projects", "default", EncodeQueue(project, true).dump(), 0}});
  if (!revision) return revision.error();
  return Status::Ok();
}

}  // namespace allot::api
