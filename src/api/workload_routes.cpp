// The workloads' routes: submit, list, read, change, delete, and their GPU use and logs
// (docs/api.md).
#include <mutex>

#include "api/api_context.h"
#include "api/run_as.h"
#include "common/quantity.h"
#include "server/task_lifecycle.h"

namespace allot::api {
namespace {

using nlohmann::json;
using Op = store::Write::Op;
using server::UsagePoint;
using server::WorkloadUsageSummary;
using wire::DecodeWorkloadSubmission;
using wire::EncodeWorkload;
using wire::GpuUsageSample;
using wire::IsActive;
using wire::JsonReader;
using wire::StatusName;
using wire::WorkloadResource;
using wire::WorkloadStatus;

class WorkloadRoutes : public ResourceRoutes {
 public:
  using ResourceRoutes::ResourceRoutes;

  Result<Reply> Submit(const httplib::Request& req, const Caller& caller) {
    Result<json> body = ApiContext::Body(req);
    if (!body) return body.error();
    Result<WorkloadResource> workload = DecodeWorkloadSubmission(*body);
    if (!workload) return workload.error();
    Result<Scope> scope = ctx_.ProjectScope(workload->spec.queue, caller.user);
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
    if (Status s = ctx_.ResolveRuntime(*workload, caller); !s) return s.error();
    workload->owner = caller.user.name;
    workload->status = WorkloadStatus::kPending;
    workload->created_ms = options_.now_ms();
    json encoded = EncodeWorkload(*workload);
    Result<int64_t> revision = ctx_.CommitAudited(
        caller, {{Op::kCreate, "workloads", workload->spec.name, encoded.dump(), 0}}, 201);
    if (!revision) return revision.error();
    encoded["revision"] = *revision;
    return Reply{201, encoded};
  }
  Result<Reply> DeleteWorkload(const httplib::Request& req, const Caller& caller) {
    std::string name = PathName(req);
    Result<StoredWorkload> stored = ctx_.LoadWorkload(name, caller.user);
    if (!stored) return stored.error();
    WorkloadResource* workload = &stored->workload;
    bool own = workload->owner == caller.user.name;
    if (!Allows(caller.user, own ? Access::kManageOwn : Access::kManageOthers, stored->scope)) {
      return Forbidden("deleting workload '" + name + "'");
    }
    // The record stays, marked deleted, so that describe and audit can
    // still show it; the scheduling loop releases its GPUs.
    server::EndWorkload(*workload, WorkloadStatus::kDeleted, "deleted by " + caller.user.name);
    Result<int64_t> revision = ctx_.CommitAudited(
        caller,
        {{Op::kUpdate, "workloads", name, EncodeWorkload(*workload).dump(), stored->revision}},
        200);
    if (!revision) return revision.error();
    return Reply{200, {{"deleted", name}, {"revision", *revision}}};
  }
  // POST .../stop and .../start: a workspace (or other interactive work)
  // ends and keeps its definition, or waits to run again as a new attempt.
  Result<Reply> StopOrStart(const httplib::Request& req, const Caller& caller, bool start) {
    std::string name = PathName(req);
    Result<StoredWorkload> stored = ctx_.LoadWorkload(name, caller.user);
    if (!stored) return stored.error();
    WorkloadResource* workload = &stored->workload;
    bool own = workload->owner == caller.user.name;
    const char* verb = start ? "starting" : "stopping";
    if (!Allows(caller.user, own ? Access::kManageOwn : Access::kManageOthers, stored->scope)) {
      return Forbidden(std::string(verb) + " workload '" + name + "'");
    }
    if (workload->spec.kind != core::WorkloadKind::kInteractive) {
      return Error::Coded("invalid",
                          "workload '" + name +
                              "' is not interactive: stop and start apply to workspaces and "
                              "interactive work (delete other work, submit it again)",
                          "name");
    }
    if (start == IsActive(workload->status) || workload->status == WorkloadStatus::kDeleted) {
      return Error::Coded("conflict", "workload '" + name + "' is " + StatusName(workload->status) +
                                          ": nothing to " + (start ? "start" : "stop"));
    }
    if (start) {
      workload->status = WorkloadStatus::kPending;
      workload->reason.clear();
      for (auto& task : workload->assignments) task.restarts = 0;
    } else {
      server::EndWorkload(*workload, WorkloadStatus::kStopped, "stopped by " + caller.user.name);
    }
    return CommitUpdate(caller, *stored);
  }
  // Writes the changed workload back at the revision it was read at, with
  // the request's audit entry; the reply is the workload as stored.
  Result<Reply> CommitUpdate(const Caller& caller, const StoredWorkload& stored) {
    json encoded = EncodeWorkload(stored.workload);
    Result<int64_t> revision = ctx_.CommitAudited(
        caller,
        {{Op::kUpdate, "workloads", stored.workload.spec.name, encoded.dump(), stored.revision}},
        200);
    if (!revision) return revision.error();
    encoded["revision"] = *revision;
    return Reply{200, encoded};
  }
  // PATCH a workload: its priority, which project admins set.
  Result<Reply> PatchWorkload(const httplib::Request& req, const Caller& caller) {
    std::string name = PathName(req);
    Result<json> body = ApiContext::Body(req);
    if (!body) return body.error();
    JsonReader reader(*body);
    int32_t priority = -1;
    if (Status s = reader.Int32("priority", priority, 0, 1000); !s) return s.error();
    if (Status s = reader.Finish(); !s) return s.error();
    if (priority < 0) {
      return Error::Coded("invalid", "priority: give the new priority (0 to 1000)", "priority");
    }
    Result<StoredWorkload> stored = ctx_.LoadWorkload(name, caller.user);
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
    return CommitUpdate(caller, *stored);
  }
  static json EncodeUsageSummary(const WorkloadUsageSummary& summary) {
    return {{"project", summary.project},
            {"time_ms", summary.time_ms},
            {"gpu_utilization", summary.utilization},
            {"gpu_memory_used", FormatMebibytes(summary.memory_mib)},
            {"idle_since_ms", summary.idle_since_ms > 0 ? json(summary.idle_since_ms) : json()}};
  }
};

}  // namespace

// Readings older than this are not shown as a workload's present.
constexpr int64_t kFreshUsageMs = 60000;

void AddWorkloadRoutes(ApiContext& ctx, const AddRoute& add) {
  auto routes = std::make_shared<WorkloadRoutes>(ctx);
  add(
      "GET", "/api/v1/workloads",
      [&ctx](const auto& req, const Caller& caller) {
        Result<std::function<bool(const json&)>> visible = ctx.WorkloadsVisibleTo(caller);
        if (!visible) return Result<Reply>(visible.error());
        return ctx.List(req, "workloads", {"project", "status", "owner"}, *visible);
      },
      Record::kAudited);
  add(
      "GET", "/api/v1/workloads/([^/]+)",
      [&ctx](const auto& req, const Caller& caller) {
        Result<Reply> reply = ctx.GetOne("workloads", PathName(req));
        if (reply && !ctx.MayRead(caller, reply->body.value("project", ""))) {
          return Result<Reply>(Forbidden("reading this workload"));
        }
        return reply;
      },
      Record::kAudited);
  add(
      "POST", "/api/v1/workloads",
      [routes](const auto& req, const Caller& caller) { return routes->Submit(req, caller); },
      Record::kAudited);
  add(
      "DELETE", "/api/v1/workloads/([^/]+)",
      [routes](const auto& req, const Caller& caller) {
        return routes->DeleteWorkload(req, caller);
      },
      Record::kAudited);
  add(
      "PATCH", "/api/v1/workloads/([^/]+)",
      [routes](const auto& req, const Caller& caller) {
        return routes->PatchWorkload(req, caller);
      },
      Record::kAudited);
  add(
      "POST", "/api/v1/workloads/([^/]+)/stop",
      [routes](const httplib::Request& req, const Caller& caller) {
        return routes->StopOrStart(req, caller, false);
      },
      Record::kAudited);
  add(
      "POST", "/api/v1/workloads/([^/]+)/start",
      [routes](const httplib::Request& req, const Caller& caller) {
        return routes->StopOrStart(req, caller, true);
      },
      Record::kAudited);
  add(
      "GET", "/api/v1/workloads/([^/]+)/logs",
      [&ctx](const auto& req, const Caller& caller) {
        return ctx.agents().Logs(
            req, caller, [&](const std::string& project) { return ctx.MayRead(caller, project); });
      },
      Record::kAudited);
  add(
      "GET", "/api/v1/usage",
      [&ctx](const auto&, const Caller& caller) -> Result<Reply> {
        json workloads = json::object();
        int64_t now = ctx.options().now_ms();
        std::function<bool(const json&)> readable = ctx.ReadableByProject(caller);
        for (const auto& [name, summary] : ctx.workload_usage().Summaries(now - kFreshUsageMs)) {
          if (readable && !readable(json{{"project", summary.project}})) continue;
          workloads[name] = WorkloadRoutes::EncodeUsageSummary(summary);
        }
        json nodes = json::object();
        for (const auto& [node, gpus] : ctx.liveness().Usage()) {
          json list = json::array();
          for (const GpuUsageSample& gpu : gpus) {
            list.push_back({{"index", gpu.index},
                            {"memory_used", FormatMebibytes(gpu.memory_used_mib)},
                            {"utilization", gpu.utilization_percent}});
          }
          nodes[node] = std::move(list);
        }
        return Reply{200, {{"nodes", nodes}, {"workloads", workloads}}};
      },
      Record::kAudited);
  add(
      "GET", "/api/v1/workloads/([^/]+)/usage",
      [&ctx](const auto& req, const Caller& caller) -> Result<Reply> {
        std::string name = PathName(req);
        Result<StoredWorkload> stored = ctx.LoadWorkload(name, caller.user);
        if (!stored) return stored.error();
        if (!ctx.MayRead(caller, stored->workload.spec.queue)) {
          return Forbidden("reading this workload");
        }
        json points = json::array();
        for (const UsagePoint& point : ctx.workload_usage().Points(name)) {
          points.push_back({{"time_ms", point.time_ms},
                            {"task", point.task},
                            {"gpu_utilization", point.utilization},
                            {"gpu_memory_used", FormatMebibytes(point.memory_mib)}});
        }
        int64_t idle_since = ctx.workload_usage().IdleSince(name);
        return Reply{200,
                     {{"workload", name},
                      {"points", points},
                      {"idle_since_ms", idle_since > 0 ? json(idle_since) : json(nullptr)}}};
      },
      Record::kAudited);
}

}  // namespace allot::api
