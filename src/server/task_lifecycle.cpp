#include "server/task_lifecycle.h"

namespace allot::server {

using wire::IsActive;
using wire::IsFinalTaskState;
using wire::ReleaseTask;
using wire::StatusName;
using wire::TaskAssignment;
using wire::TaskState;
using wire::WorkloadStatus;

namespace {

// Why an attempt ended, in words.
std::string EndReason(const TaskReport& report) {
  if (report.state == TaskState::kExited) {
    return "exited with code " + std::to_string(report.exit_code) +
           (report.reason.empty() ? "" : " (" + report.reason + ")");
  }
  if (report.state == TaskState::kKilled) {
    return "was killed by signal " + std::to_string(report.signal) +
           (report.reason.empty() ? "" : " (" + report.reason + ")");
  }
  if (report.state == TaskState::kFailedToStart) return "failed to start: " + report.reason;
  return "was lost: " + (report.reason.empty() ? "the process is gone" : report.reason);
}

}  // namespace

void EndWorkload(WorkloadResource& workload, WorkloadStatus status, const std::string& reason) {
  workload.status = status;
  workload.reason = reason;
  workload.pending_reason.clear();
  for (auto& task : workload.assignments) ReleaseTask(task);
}

bool RestartsOnFailure(const WorkloadResource& workload) {
  core::WorkloadKind kind = workload.spec.kind;
  return kind == core::WorkloadKind::kTraining || kind == core::WorkloadKind::kDistributed ||
         workload.replica.IsSet();
}

WorkloadStatus StatusAfterPlan(const WorkloadResource& workload, WorkloadStatus before) {
  int placed = 0;
  for (const auto& task : workload.assignments) placed += task.node.empty() ? 0 : 1;
  if (placed >= workload.spec.min_tasks) return WorkloadStatus::kRunning;
  if (before == WorkloadStatus::kRunning || before == WorkloadStatus::kEvicted) {
    return WorkloadStatus::kEvicted;
  }
  return WorkloadStatus::kPending;
}

std::string DescribeTaskEnd(int32_t task, const TaskReport& report) {
  return "task " + std::to_string(task) + " (attempt " + std::to_string(report.attempt) +
         " on node " + report.node + ") " + EndReason(report);
}

Result<ReportOutcome> ApplyTaskReport(WorkloadResource& workload, int32_t task,
                                      const TaskReport& report, int64_t now_ms,
                                      int64_t restart_backoff_ms) {
  if (task < 0 || static_cast<size_t>(task) >= workload.assignments.size()) {
    return Error::Coded("invalid",
                        "task: workload '" + workload.spec.name + "' has tasks 0 to " +
                            std::to_string(workload.assignments.size() - 1),
                        "task");
  }
  TaskAssignment& assigned = workload.assignments[static_cast<size_t>(task)];
  if (!IsActive(workload.status) || assigned.node != report.node ||
      assigned.attempt != report.attempt) {
    std::string now =
        !IsActive(workload.status) ? std::string("the workload is ") + StatusName(workload.status)
        : assigned.node.empty()    ? "the task is not placed"
                                   : "its current attempt is " + std::to_string(assigned.attempt) +
                                      " on node " + assigned.node;
    return Error::Coded("conflict",
                        "task " + std::to_string(task) + " attempt " +
                            std::to_string(report.attempt) + " on node " + report.node +
                            " is not current (" + now + "): the report changes nothing",
                        "attempt");
  }
  ReportOutcome outcome;
  if (IsFinalTaskState(assigned.state)) {
    return outcome;  // the attempt has ended; a late or repeated report changes nothing
  }
  bool live = report.state == TaskState::kStarting || report.state == TaskState::kRunning;
  bool ready = report.state == TaskState::kRunning && report.ready;
  if (assigned.state == report.state && assigned.pid == report.pid && assigned.ready == ready &&
      (ready || assigned.ready_reason == report.ready_reason)) {
    return outcome;
  }
  outcome.changed = true;
  std::string name = "task " + std::to_string(task);
  if (live) {
    bool was_running = assigned.state == TaskState::kRunning && assigned.pid == report.pid;
    if (workload.replica.IsSet() && ready != assigned.ready) {
      outcome.events.push_back({ready ? "ReplicaReady" : "ReplicaNotReady",
                                name + " (attempt " + std::to_string(report.attempt) + ") " +
                                    (ready ? "is ready" : "is not ready: " + report.ready_reason)});
    }
    assigned.state = report.state;
    assigned.pid = report.pid;
    assigned.ready = ready;
    assigned.ready_reason = ready ? "" : report.ready_reason;
    if (report.state == TaskState::kRunning && !was_running) {
      assigned.started_ms = report.time_ms != 0 ? report.time_ms : now_ms;
      outcome.events.push_back({"TaskRunning", name + " (attempt " +
                                                   std::to_string(report.attempt) +
                                                   ") is running on node " + report.node +
                                                   ", pid " + std::to_string(report.pid)});
    }
    return outcome;
  }
  assigned.state = report.state;
  assigned.ready = false;
  assigned.ready_reason.clear();
  assigned.exit_code = report.exit_code;
  assigned.reason = EndReason(report);
  assigned.finished_ms = report.time_ms != 0 ? report.time_ms : now_ms;
  bool succeeded = report.state == TaskState::kExited && report.exit_code == 0;
  outcome.events.push_back(
      {succeeded ? "TaskSucceeded" : "TaskFailed", DescribeTaskEnd(task, report)});
  if (succeeded) {
    // Done when every placed task has exited 0 and the gang minimum did.
    int done = 0;
    bool all = true;
    for (const auto& other : workload.assignments) {
      if (other.node.empty()) continue;
      bool ok = other.state == TaskState::kExited && other.exit_code == 0;
      done += ok ? 1 : 0;
      all = all && ok;
    }
    if (all && done >= workload.spec.min_tasks) {
      EndWorkload(workload, WorkloadStatus::kSucceeded, "");
      outcome.events.push_back({"Succeeded", "every task exited with code 0"});
    }
    return outcome;
  }
  std::string why = name + " " + EndReason(report);
  if (report.state == TaskState::kLost && !RestartsOnFailure(workload)) {
    EndWorkload(workload, WorkloadStatus::kLost, why);
    outcome.events.push_back({"Lost", why});
  } else if (report.state != TaskState::kFailedToStart && RestartsOnFailure(workload) &&
             assigned.restarts < workload.max_restarts) {
    // Restart on the same node as a new attempt, after a doubling backoff.
    ++assigned.restarts;
    ++assigned.attempt;
    int64_t backoff =
        std::min(restart_backoff_ms << std::min(assigned.restarts - 1, 20), kMaxRestartBackoffMs);
    assigned.state = TaskState::kWaiting;
    assigned.pid = 0;
    assigned.not_before_ms = now_ms + backoff;
    outcome.events.push_back({"Restarting", why + ": restart " + std::to_string(assigned.restarts) +
                                                " of " + std::to_string(workload.max_restarts) +
                                                " in " + std::to_string(backoff / 1000) +
                                                " s (attempt " + std::to_string(assigned.attempt) +
                                                ")"});
  } else {
    std::string limit = report.state == TaskState::kFailedToStart ? ""
                        : RestartsOnFailure(workload)
                            ? " (after " + std::to_string(assigned.restarts) + " restarts)"
                            : "";
    EndWorkload(workload, WorkloadStatus::kFailed, why + limit);
    outcome.events.push_back({"Failed", why + limit});
  }
  return outcome;
}

}  // namespace allot::server
