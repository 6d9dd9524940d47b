#include "server/agent_sessions.h"

#include <nlohmann/json.hpp>

#include "server/events.h"
#include "server/task_lifecycle.h"

namespace allot::server {
namespace {

using nlohmann::json;
using Op = store::Write::Op;

// The project of the stored workload when its task `task` runs on `node`
// now; empty otherwise.
std::string ProjectIfRunsOn(store::Store& store, const std::string& workload, int32_t task,
                            const std::string& node) {
  Result<store::Object> stored = store.Get("workloads", workload);
  if (!stored) return "";
  Result<wire::WorkloadResource> decoded = wire::DecodeStoredWorkload(stored->body);
  bool runs = decoded && task >= 0 && static_cast<size_t>(task) < decoded->assignments.size() &&
              decoded->assignments[static_cast<size_t>(task)].node == node;
  return runs ? decoded->spec.queue : "";
}

}  // namespace

AgentSessions::AgentSessions(store::Store& store, std::function<int64_t()> now_ms,
                             NodeLiveness& liveness, WorkloadUsage& workload_usage,
                             AgentTimings timings, std::function<void()> on_change)
    : store_(store),
      now_ms_(std::move(now_ms)),
      liveness_(liveness),
      workload_usage_(workload_usage),
      timings_(timings),
      on_change_(std::move(on_change)) {}

std::vector<store::Write> AgentSessions::Heartbeat(
    wire::NodeResource& node, int64_t revision, std::vector<wire::GpuUsageSample> gpus,
    const std::vector<wire::TaskUsageReport>& tasks) {
  const std::string& name = node.spec.name;
  int64_t now = now_ms_();
  liveness_.Heard(name, now);
  // For the leader, which may be another server. Best effort: a lost write
  // only costs the node a heartbeat's worth of its `lost_after`.
  if (store_.Shared()) (void)store_.RecordHeartbeat(name, now);
  liveness_.Reported(name, std::move(gpus));
  for (const wire::TaskUsageReport& report : tasks) {
    // Only what runs there now: an agent speaks for its own node's tasks.
    if (report.utilization < 0) continue;
    std::string project = ProjectIfRunsOn(store_, report.workload, report.task, name);
    if (project.empty()) continue;
    workload_usage_.Record(report.workload, project, report.task, now,
                           static_cast<int32_t>(report.utilization), report.memory_mib);
  }
  if (node.state != wire::NodeState::kLost) return {};
  // Back: the node takes work again. Tasks rescheduled meanwhile are no
  // longer assigned to it, and its agent stops them.
  node.state = wire::NodeState::kReady;
  json event = MakeEvent(now, "", "", "NodeReady", "node " + name + " answers again");
  return {{Op::kUpdate, "nodes", name, wire::EncodeNode(node).dump(), revision},
          {Op::kCreate, "events", event["name"], event.dump(), 0}};
}

Result<AgentSessions::ReportResult> AgentSessions::ReportTask(const std::string& name, int32_t task,
                                                              const wire::TaskReport& report) {
  // The scheduling loop writes workloads too: read, apply and write again
  // when it got there first.
  for (int attempt = 0;; ++attempt) {
    Result<store::Object> stored = store_.Get("workloads", name);
    if (!stored) return stored.error();
    Result<wire::WorkloadResource> workload = wire::DecodeStoredWorkload(stored->body);
    if (!workload) return workload.error();
    int64_t now = now_ms_();
    Result<ReportOutcome> outcome =
        ApplyTaskReport(*workload, task, report, now, timings_.restart_backoff_ms);
    if (!outcome) {
      // A stale attempt's end is still worth knowing (an evicted task's
      // exit code): an event records it; the assignment stays as it is.
      if (outcome.error().code == "conflict" && wire::IsFinalTaskState(report.state)) {
        json event = MakeEvent(now, name, workload->spec.queue, "TaskStopped",
                               DescribeTaskEnd(task, report));
        (void)store_.Commit({{Op::kCreate, "events", event["name"], event.dump(), 0}});
      }
      return outcome.error();
    }
    if (!outcome->changed) return ReportResult{workload->status, 0};
    std::vector<store::Write> writes = {
        {Op::kUpdate, "workloads", name, wire::EncodeWorkload(*workload).dump(), stored->revision}};
    for (const auto& happened : outcome->events) {
      json event = MakeEvent(now, name, workload->spec.queue, happened.type, happened.message);
      writes.push_back({Op::kCreate, "events", event["name"], event.dump(), 0});
    }
    Result<int64_t> revision = store_.Commit(writes);
    if (!revision) {
      if (revision.error().code == "conflict" && attempt < 20) continue;
      return revision.error();
    }
    if (on_change_ && !wire::IsActive(workload->status)) on_change_();
    return ReportResult{workload->status, *revision};
  }
}

}  // namespace allot::server
