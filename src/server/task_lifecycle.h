// A workload's lifecycle: every change of its status, in one place. The
// scheduling loop's plan (bound: running; evicted: waiting to run again),
// an agent's task report (docs/agent-protocol.md §4: the task's state,
// restarts with backoff for training, succeeded, failed, lost), and the
// ends decided by the loop (a lost node, an idle rule, the maximum run time)
// or by a user (deleted) all go through these functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "wire/resources.h"
#include "wire/task_report.h"

namespace allot::server {

using wire::TaskReport;
using wire::WorkloadResource;

// Ends the workload with `status` and `reason`: every task leaves its node
// (its agent stops it), the agents' last reports stay.
void EndWorkload(WorkloadResource& workload, wire::WorkloadStatus status,
                 const std::string& reason);

// Whether the workload runs again after a failed task or a lost node
// (training, distributed and service replicas: yes; other interactive and
// inference work ends).
bool RestartsOnFailure(const WorkloadResource& workload);

// The longest a restart waits, however often the task failed before.
constexpr int64_t kMaxRestartBackoffMs = 300000;

// The status after the loop carried out a plan on the workload's tasks:
// running with its minimum placed; otherwise evicted when it ran (or was
// evicted) `before`, else pending.
wire::WorkloadStatus StatusAfterPlan(const WorkloadResource& workload, wire::WorkloadStatus before);

struct WorkloadEvent {
  std::string type;  // "TaskRunning", "TaskExited", "Restarting", "Succeeded", ...
  std::string message;
};

struct ReportOutcome {
  bool changed = false;  // the workload was changed (write it)
  std::vector<WorkloadEvent> events;
};

// Applies `report` about task `task` to `workload`. An error "conflict"
// when the report is not about the task's current attempt on that node (a
// late report from an old placement changes nothing); "invalid" for a task
// the workload does not have. A report that repeats the task's state
// changes nothing.
Result<ReportOutcome> ApplyTaskReport(WorkloadResource& workload, int32_t task,
                                      const TaskReport& report, int64_t now_ms,
                                      int64_t restart_backoff_ms);

// "task 0 (attempt 2 on node a) exited with code 1": for events.
std::string DescribeTaskEnd(int32_t task, const TaskReport& report);

}  // namespace allot::server
