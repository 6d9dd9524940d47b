// The quota tree's routes: departments and projects (docs/api.md).
#include <mutex>

#include "api/api_context.h"
#include "server/quota_tree.h"

namespace allot::api {
namespace {

using nlohmann::json;
using Op = store::Write::Op;
using wire::DecodeQueue;
using wire::EncodeQueue;
using wire::QueueResource;

class QueueRoutes : public ResourceRoutes {
 public:
  using ResourceRoutes::ResourceRoutes;

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
      Result<Scope> scope = ctx_.QueueScope(place, is_project, access);
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
  // A project's grants reach the hosts (paths bound into tasks, root, the
  // uid its tasks run as): only admins change them.
  Status MayChangePolicy(const Caller& caller, const QueueResource& project, bool create) {
    wire::ProjectPolicy before;
    if (!create) {
      Result<wire::ProjectPolicy> stored = ctx_.ProjectPolicyOf(project.spec.name);
      if (!stored) return stored.error();
      before = *stored;
    }
    if (project.policy == before || Allows(caller.user, Access::kAdminister, {})) {
      return Status::Ok();
    }
    return Forbidden(
        "changing a project's allowed paths, root permission or default identity (admins grant "
        "host access)");
  }
  Result<Reply> PutQueue(const httplib::Request& req, const Caller& caller, bool is_project,
                         bool create) {
    const char* kind = is_project ? "projects" : "departments";
    Result<json> body = ApiContext::Body(req);
    if (!body) return body.error();
    Result<QueueResource> queue = DecodeQueue(*body, is_project);
    if (!queue) return queue.error();
    if (!create && queue->spec.name != PathName(req)) {
      return Error::Coded("invalid", "name: the body's name must match the path", "name");
    }
    std::lock_guard lock(tree_mutex_);  // one quota-tree change at a time
    if (Status s = MayChangeQueue(caller, queue->spec, is_project, create); !s) return s.error();
    if (is_project) {
      if (Status s = MayChangePolicy(caller, *queue, create); !s) return s.error();
    }
    if (Status s = server::CheckQuotaTree(store_, queue->spec, is_project, false); !s) {
      return s.error();
    }
    Result<int64_t> revision =
        ctx_.CommitAudited(caller,
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
    Result<Scope> scope = ctx_.QueueScope(queue->spec, is_project, access);
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
    return ctx_.DeleteOne(caller, kind, name);
  }

 private:
  std::mutex tree_mutex_;  // one quota-tree change at a time
};

}  // namespace

void AddQueueRoutes(ApiContext& ctx, const AddRoute& add) {
  auto routes = std::make_shared<QueueRoutes>(ctx);
  const std::function<bool(const json&)> anyone;  // empty: every item is visible
  for (bool is_project : {false, true}) {
    std::string base = is_project ? "/api/v1/projects" : "/api/v1/departments";
    std::string kind = is_project ? "projects" : "departments";
    std::vector<std::string> filters = {is_project ? "department" : "parent"};
    add(
        "GET", base,
        [&ctx, kind, filters, anyone](const auto& req, const Caller&) {
          return ctx.List(req, kind, filters, anyone);
        },
        Record::kAudited);
    add(
        "GET", base + "/([^/]+)",
        [&ctx, kind](const auto& req, const Caller&) { return ctx.GetOne(kind, PathName(req)); },
        Record::kAudited);
    add(
        "POST", base,
        [routes, is_project](const auto& req, const Caller& caller) {
          return routes->PutQueue(req, caller, is_project, true);
        },
        Record::kAudited);
    add(
        "PUT", base + "/([^/]+)",
        [routes, is_project](const auto& req, const Caller& caller) {
          return routes->PutQueue(req, caller, is_project, false);
        },
        Record::kAudited);
    add(
        "DELETE", base + "/([^/]+)",
        [routes, is_project](const auto& req, const Caller& caller) {
          return routes->DeleteQueue(req, caller, is_project);
        },
        Record::kAudited);
  }
}

}  // namespace allot::api
