// The inference services' routes (docs/serving.md, docs/api.md): create,
// list, describe (the controller's counts, the gateway's measurements, each
// replica and why it does not serve), update (a rolling update when what the
// replicas run changes) and delete.
#include "api/api_context.h"
#include "server/service_traffic.h"
#include "server/serving_controller.h"
#include "wire/service.h"

namespace allot::api {
namespace {

using nlohmann::json;
using Op = store::Write::Op;
using wire::ServiceResource;
using wire::WorkloadResource;

struct StoredService {
  ServiceResource service;
  int64_t revision = 0;
  Scope scope;
};

// The API's form of a service: the stored one without the server's
// resolved template.
json PublicForm(const ServiceResource& service, int64_t revision) {
  json out = wire::EncodeService(service);
  out.erase("replica_workload");
  out["url"] = wire::ServicePath(service.project, service.name);
  out["revision"] = revision;
  return out;
}

class ServiceRoutes : public ResourceRoutes {
 public:
  using ResourceRoutes::ResourceRoutes;

  Result<Reply> Create(const httplib::Request& req, const Caller& caller) {
    Result<json> body = ApiContext::Body(req);
    if (!body) return body.error();
    Result<ServiceResource> service = wire::DecodeServiceSubmission(*body);
    if (!service) return service.error();
    Result<Scope> scope = ctx_.ProjectScope(service->project, caller.user);
    if (!scope) return scope.error();
    if (!Allows(caller.user, Access::kSubmit, *scope)) {
      return Forbidden("creating services in project '" + service->project + "'");
    }
    if (service->is_public && !Allows(caller.user, Access::kManageOthers, *scope)) {
      return Forbidden("making a service public in project '" + service->project +
                       "' (project admins do): drop public");
    }
    if (Result<Reply> in_use = NameInUse(service->name); !in_use) return in_use.error();
    service->owner = caller.user.name;
    service->created_ms = options_.now_ms();
    service->generation = 1;
    if (Status s = ResolveTemplate(*service, caller, *scope); !s) return s.error();
    json encoded = wire::EncodeService(*service);
    Result<int64_t> revision = ctx_.CommitAudited(
        caller, {{Op::kCreate, "services", service->name, encoded.dump(), 0}}, 201);
    if (!revision) return revision.error();
    return Reply{201, PublicForm(*service, *revision)};
  }

  Result<Reply> Update(const httplib::Request& req, const Caller& caller) {
    Result<json> body = ApiContext::Body(req);
    if (!body) return body.error();
    Result<StoredService> stored = Load(PathName(req), caller);
    if (!stored) return stored.error();
    ServiceResource& service = stored->service;
    if (!MayManage(caller, *stored)) return Forbidden("changing service '" + service.name + "'");
    bool was_public = service.is_public;
    bool template_changed = false;
    if (Status s = wire::ApplyServiceUpdate(service, *body, template_changed); !s) {
      return s.error();
    }
    if (service.is_public != was_public &&
        !Allows(caller.user, Access::kManageOthers, stored->scope)) {
      return Forbidden("changing whether service '" + service.name +
                       "' is public (project admins do)");
    }
    if (template_changed) {
      if (Status s = ResolveTemplate(service, caller, stored->scope); !s) return s.error();
      ++service.generation;  // the controller rolls the replicas over
    }
    json encoded = wire::EncodeService(service);
    Result<int64_t> revision = ctx_.CommitAudited(
        caller, {{Op::kUpdate, "services", service.name, encoded.dump(), stored->revision}}, 200);
    if (!revision) return revision.error();
    return Reply{200, PublicForm(service, *revision)};
  }

  Result<Reply> Describe(const httplib::Request& req, const Caller& caller) {
    Result<StoredService> stored = Load(PathName(req), caller);
    if (!stored) return stored.error();
    const ServiceResource& service = stored->service;
    json out = PublicForm(service, stored->revision);
    int64_t now = options_.now_ms();
    server::TrafficSummary traffic = ctx_.service_traffic().Summary(service.name, now);
    json status = {{"in_flight", traffic.in_flight},
                   {"requests_per_second", traffic.rps},
                   {"latency_p50_ms", traffic.p50_seconds * 1000},
                   {"latency_p99_ms", traffic.p99_seconds * 1000},
                   {"requests", traffic.requests},
                   {"errors", traffic.errors},
                   {"cold_starts", traffic.cold_starts},
                   {"last_cold_start_seconds", traffic.last_cold_start_seconds}};
    if (options_.service_states) {
      std::map<std::string, server::ServiceState> states = options_.service_states();
      if (auto found = states.find(service.name); found != states.end()) {
        const server::ServiceState& state = found->second;
        status["desired"] = state.desired;
        status["replicas"] = state.replicas;
        status["ready"] = state.ready;
        status["draining"] = state.draining;
        status["panicking"] = state.panicking;
        status["stable_load"] = state.stable_load;
        status["panic_load"] = state.panic_load;
        if (!state.not_ready_reason.empty()) status["not_ready_reason"] = state.not_ready_reason;
      }
    }
    out["status"] = status;
    Result<json> replicas = Replicas(service);
    if (!replicas) return replicas.error();
    out["replicas"] = *replicas;
    return Reply{200, out};
  }

  Result<Reply> Delete(const httplib::Request& req, const Caller& caller) {
    Result<StoredService> stored = Load(PathName(req), caller);
    if (!stored) return stored.error();
    if (!MayManage(caller, *stored)) {
      return Forbidden("deleting service '" + stored->service.name + "'");
    }
    // The controller ends its replicas.
    return ctx_.DeleteOne(caller, "services", stored->service.name);
  }

 private:
  Result<StoredService> Load(const std::string& name, const Caller& caller) {
    Result<store::Object> object = store_.Get("services", name);
    if (!object) {
      if (object.error().code != "not_found") return object.error();
      return Error::Coded("not_found", "no service '" + name + "' (allot serve list)", "name");
    }
    Result<ServiceResource> service = wire::DecodeStoredService(object->body);
    if (!service) return service.error();
    Result<Scope> scope = ctx_.ProjectScope(service->project, caller.user);
    if (!scope) return scope.error();
    if (!ctx_.MayRead(caller, service->project)) {
      return Forbidden("reading services of project '" + service->project + "'");
    }
    return StoredService{std::move(*service), object->revision, *scope};
  }

  static bool MayManage(const Caller& caller, const StoredService& stored) {
    bool own = stored.service.owner == caller.user.name;
    return Allows(caller.user, own ? Access::kManageOwn : Access::kManageOthers, stored.scope);
  }

  Result<Reply> NameInUse(const std::string& name) {
    Result<store::Object> existing = store_.Get("services", name);
    if (existing) {
      return Error::Coded("already_exists",
                          "service '" + name + "' exists: pick another name, or allot serve update",
                          "name");
    }
    return Reply{};
  }

  // Checks the replica template as a workload submission of the service's
  // project and resolves the identity its replicas run as.
  Status ResolveTemplate(ServiceResource& service, const Caller& caller, const Scope& scope) {
    json submission = service.replica_template;
    submission["name"] = service.name;
    submission["project"] = service.project;
    submission["kind"] = "inference";
    Result<WorkloadResource> prototype = wire::DecodeWorkloadSubmission(submission);
    if (!prototype) return prototype.error();
    bool sets_priority =
        prototype->priority_given &&
        prototype->spec.priority != core::DefaultsFor(prototype->spec.kind).priority;
    if (sets_priority && !Allows(caller.user, Access::kManageOthers, scope)) {
      return Forbidden("setting a priority in project '" + service.project +
                       "' (project admins set priorities): drop priority");
    }
    if (Status s = ctx_.ResolveRuntime(*prototype, caller); !s) return s;
    prototype->owner = service.owner;
    service.replica_workload = wire::EncodeWorkload(*prototype);
    return Status::Ok();
  }

  // The service's replicas that have not ended long ago: name, generation,
  // status, node, readiness and why.
  Result<json> Replicas(const ServiceResource& service) {
    store::ListQuery query;
    query.kind = "workloads";
    query.limit = 1000;
    query.equals.emplace_back("project", service.project);
    json out = json::array();
    for (;;) {
      Result<store::Page> page = store_.List(query);
      if (!page) return page.error();
      for (const store::Object& object : page->items) {
        Result<WorkloadResource> w = wire::DecodeStoredWorkload(object.body);
        if (!w || w->replica.service != service.name || !wire::IsActive(w->status)) continue;
        const wire::TaskAssignment& task = w->assignments.front();
        json item = {{"name", w->spec.name},
                     {"generation", w->replica.generation},
                     {"status", wire::StatusName(w->status)},
                     {"node", task.node},
                     {"ready", task.ready},
                     {"restarts", task.restarts}};
        std::string why = !w->pending_reason.empty()   ? w->pending_reason
                          : !task.ready_reason.empty() ? task.ready_reason
                                                       : task.reason;
        if (!task.ready && !why.empty()) item["reason"] = why;
        out.push_back(std::move(item));
      }
      if (!page->more || page->items.empty()) break;
      query.after = page->items.back().name;
    }
    return out;
  }
};

}  // namespace

void AddServiceRoutes(ApiContext& ctx, const AddRoute& add) {
  auto routes = std::make_shared<ServiceRoutes>(ctx);
  add(
      "GET", "/api/v1/services",
      [&ctx](const auto& req, const Caller& caller) {
        std::function<bool(const json&)> readable = ctx.ReadableByProject(caller);
        Result<Reply> reply = ctx.List(req, "services", {"project", "owner"}, readable);
        if (!reply) return reply;
        // The list comes as text; services are few, so it is parsed to take
        // the server's template out.
        json body = json::parse(reply->raw);
        for (json& item : body["items"]) {
          item.erase("replica_workload");
          item["url"] = wire::ServicePath(item.value("project", ""), item.value("name", ""));
        }
        return Result<Reply>(Reply{200, body});
      },
      Record::kAudited);
  add(
      "POST", "/api/v1/services",
      [routes](const auto& req, const Caller& caller) { return routes->Create(req, caller); },
      Record::kAudited);
  add(
      "GET", "/api/v1/services/([^/]+)",
      [routes](const auto& req, const Caller& caller) { return routes->Describe(req, caller); },
      Record::kAudited);
  add(
      "PATCH", "/api/v1/services/([^/]+)",
      [routes](const auto& req, const Caller& caller) { return routes->Update(req, caller); },
      Record::kAudited);
  add(
      "DELETE", "/api/v1/services/([^/]+)",
      [routes](const auto& req, const Caller& caller) { return routes->Delete(req, caller); },
      Record::kAudited);
}

}  // namespace allot::api
