// What the server makes of an agent's task report (docs/agent-protocol.md
// §4): the task's state, restarts with backoff for training, and the
// workload's status (succeeded, failed, lost).
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
