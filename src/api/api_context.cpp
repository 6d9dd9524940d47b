#include "api/api_context.h"

#include <map>
#include <memory>
#include <set>

#include "api/run_as.h"

namespace allot::api {
namespace {

using nlohmann::json;
using wire::DecodeStoredWorkload;
using wire::WorkloadResource;

// `body` (a JSON object) with "revision" added, appended to `out`.
static void AppendWithRevision(std::string& out, const std::string& body, int64_t revision) {
  size_t close = body.rfind('}');
  out.append(body, 0, close);
  if (body.find_first_not_of(" \t\r\n", 1) != close) out += ',';
  out += "\"revision\":" + std::to_string(revision) + "}";
}

}  // namespace

ApiContext::ApiContext(store::Store& store, const ApiOptions& options,
                       server::NodeLiveness& liveness, server::WorkloadUsage& workload_usage,
                       MetricsRegistry& metrics, server::ServiceDirectory& services,
                       server::ServiceTraffic& service_traffic)
    : store_(store),
      options_(options),
      liveness_(liveness),
      workload_usage_(workload_usage),
      metrics_(metrics),
      services_(services),
      service_traffic_(service_traffic),
      agents_(store_, options_, liveness_, workload_usage_,
              [this](const Caller& caller, const std::vector<store::Write>& writes,
                     int32_t status) { return CommitAudited(caller, writes, status); }) {}

Result<int64_t> ApiContext::CommitWithAssignedIdentity(const Caller* caller, User& user,
                                                       bool create_user, int32_t status) {
  for (int attempt = 0;; ++attempt) {
    Result<std::vector<store::Write>> writes = AssignIdentityWrites(store_, user, create_user);
    if (!writes) return writes.error();
    Result<int64_t> revision =
        caller ? CommitAudited(*caller, *writes, status) : store_.Commit(*writes);
    bool raced = !revision && (revision.error().code == "conflict" ||
                               (revision.error().code == "already_exists" &&
                                revision.error().message.find("settings") != std::string::npos));
    if (!raced || attempt >= 16) return revision;
  }
}

Result<wire::ProjectPolicy> ApiContext::ProjectPolicyOf(const std::string& name) {
  Result<store::Object> stored = store_.Get("projects", name);
  if (!stored) {
    return MissingOr(
        stored.error(),
        Error::Coded("not_found", "project '" + name + "' does not exist: see allot quota get",
                     "project"));
  }
  Result<wire::QueueResource> project = wire::DecodeQueue(json::parse(stored->body), true);
  if (!project) return project.error();
  return project->policy;
}

Result<Scope> ApiContext::ProjectScope(const std::string& project, const User& user) {
  Result<store::Object> stored = store_.Get("projects", project);
  if (!stored) {
    return MissingOr(
        stored.error(),
        Error::Coded("not_found", "project '" + project + "' does not exist: see allot quota get",
                     "project"));
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

Result<Scope> ApiContext::DepartmentScope(const std::string& name, const std::string& field) {
  Scope scope{name, "", {}};
  std::string at = name;
  // The tree is checked acyclic on every change; the bound only guards
  // against a store edited by hand.
  for (int depth = 0; depth < 64 && !at.empty(); ++depth) {
    Result<store::Object> stored = store_.Get("departments", at);
    if (!stored) {
      return MissingOr(
          stored.error(),
          Error::Coded("not_found", "department '" + at + "' does not exist: see allot quota get",
                       field));
    }
    at = json::parse(stored->body).value("parent", "");
    if (!at.empty()) scope.above.push_back(at);
  }
  return scope;
}

Result<Scope> ApiContext::QueueScope(const core::QueueSpec& spec, bool is_project, Access& access) {
  if (is_project || !spec.parent.empty()) {
    access = Access::kSetQuota;
    return DepartmentScope(spec.parent, is_project ? "department" : "parent");
  }
  access = Access::kAdminister;
  return Scope{};
}

Result<Reply> ApiContext::List(const httplib::Request& req, const std::string& kind,
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

Result<Reply> ApiContext::GetOne(const std::string& kind, const std::string& name) {
  Result<store::Object> stored = store_.Get(kind, name);
  if (!stored) return stored.error();
  json body = json::parse(stored->body);
  body["revision"] = stored->revision;
  return Reply{200, body};
}

Result<Reply> ApiContext::DeleteOne(const Caller& caller, const std::string& kind,
                                    const std::string& name) {
  Result<int64_t> revision =
      CommitAudited(caller, {{store::Write::Op::kDelete, kind, name, "", 0}}, 200);
  if (!revision) return revision.error();
  return Reply{200, {{"deleted", name}, {"revision", *revision}}};
}

Result<User> ApiContext::Authenticate(const std::string& authorization) {
  const std::string prefix = "Bearer ";
  if (authorization.rfind(prefix, 0) != 0) {
    return Error::Coded("unauthenticated",
                        "no bearer token: send 'Authorization: Bearer <token>' (allot login)");
  }
  return AuthenticateToken(authorization.substr(prefix.size()));
}

Result<User> ApiContext::AuthenticateToken(const std::string& text) {
  if (text.rfind(kJoinTokenPrefix, 0) == 0) return agents_.AuthenticateJoinToken(text);
  auto parts = SplitToken(text);
  Error refused = Error::Coded("unauthenticated", "the token is not valid: log in again");
  if (!parts) return refused;
  Result<store::Object> stored = store_.Get("tokens", parts->first);
  // A store out of reach is not a bad token: 503 (clients try another
  // server), never "log in again".
  if (!stored) return stored.error().code == "not_found" ? refused : stored.error();
  Result<TokenRecord> token = DecodeToken(stored->body);
  if (!token || !ConstantTimeEquals(token->secret_hash, Sha256Hex(parts->second))) {
    return refused;
  }
  if (std::string agent = AgentIdOf(token->user); !agent.empty()) {
    // A node agent: no roles, only its own nodes' routes.
    User user;
    user.name = token->user;
    user.agent = agent;
    user.token = token->id;
    return user;
  }
  Result<store::Object> user_object = store_.Get("users", token->user);
  if (!user_object && user_object.error().code != "not_found") return user_object.error();
  if (!user_object) return Error::Coded("unauthenticated", "the token's user no longer exists");
  Result<User> user = DecodeUser(json::parse(user_object->body));
  if (user) user->token = token->id;
  return user;
}

Result<StoredWorkload> ApiContext::LoadWorkload(const std::string& name, const User& user) {
  Result<store::Object> stored = store_.Get("workloads", name);
  if (!stored) return stored.error();
  Result<WorkloadResource> workload = DecodeStoredWorkload(stored->body);
  if (!workload) return workload.error();
  Result<Scope> scope = ProjectScope(workload->spec.queue, user);
  if (!scope) return scope.error();
  return StoredWorkload{std::move(*workload), stored->revision, std::move(*scope)};
}

bool ApiContext::IsSecretKind(const std::string& kind) {
  return kind == "tokens" || kind == "join_tokens" || kind == "agents";
}

Result<std::function<bool(const json&)>> ApiContext::WorkloadsVisibleTo(const Caller& caller) {
  if (caller.user.agent.empty()) return ReadableByProject(caller);
  Result<std::set<std::string>> nodes = agents_.NodesOf(caller.user.agent);
  if (!nodes) return nodes.error();
  return std::function<bool(const json&)>(
      [nodes = std::move(*nodes)](const json& workload) { return NamesAnyNode(workload, nodes); });
}

bool ApiContext::MayRead(const Caller& caller, const std::string& project) {
  if (Allows(caller.user, Access::kRead, {})) return true;
  Result<Scope> scope = ProjectScope(project, caller.user);
  return scope && Allows(caller.user, Access::kRead, *scope);
}

std::function<bool(const json&)> ApiContext::ReadableByProject(const Caller& caller) {
  if (Allows(caller.user, Access::kRead, {})) return nullptr;
  auto known = std::make_shared<std::map<std::string, bool>>();
  return [this, &caller, known](const json& item) {
    std::string project = item.value("project", "");
    auto found = known->find(project);
    if (found == known->end()) found = known->emplace(project, MayRead(caller, project)).first;
    return found->second;
  };
}

Result<int64_t> ApiContext::CommitAudited(const Caller& caller,
                                          const std::vector<store::Write>& writes, int32_t status) {
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

// The project's grants for the workload's volumes and root, and the
// identity its tasks run as (docs/isolation.md).
Status ApiContext::ResolveRuntime(wire::WorkloadResource& workload, const Caller& caller) {
  const std::string& project = workload.spec.queue;
  Result<wire::ProjectPolicy> policy = ProjectPolicyOf(project);
  if (!policy) return policy.error();
  if (Status s = wire::CheckVolumesAllowed(workload.runtime.volumes, *policy, project); !s) {
    return s;
  }
  User owner = caller.user;
  if (!owner.identity.IsSet() && !owner.assigned_identity.IsSet() &&
      !policy->default_identity.IsSet() && !workload.runtime.run_as_root) {
    // A user from before identities: it gets one now, once.
    Result<int64_t> assigned = CommitWithAssignedIdentity(nullptr, owner, false, 200);
    if (!assigned) return assigned.error();
  }
  Result<wire::UnixIdentity> run_as =
      ResolveRunAs(owner, *policy, project, workload.runtime.run_as_root);
  if (!run_as) return run_as.error();
  workload.runtime.run_as = *run_as;
  return Status::Ok();
}

}  // namespace allot::api
