// What an agent reports about a task (docs/agent-protocol.md §4), and what
// the server makes of it: the task's state, restarts with backoff for
// training, and the workload's status (succeeded, failed, lost).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "api/resources.h"
#include "common/result.h"

namespace allot::api {

struct TaskReport {
  std::string node;
  int32_t attempt = 0;
  // starting, running, exited, killed, failed_to_start, lost.
  std::string state;
  int32_t pid = 0;
  int32_t exit_code = 0;  // exited
  int32_t signal = 0;     // killed
  std::string reason;     // failed_to_start (required), others (optional)
  int64_t time_ms = 0;    // when it started (running) or ended
};
Result<TaskReport> DecodeTaskReport(const nlohmann::json& body);
nlohmann::json EncodeTaskReport(const TaskReport& report);

// Whether a state ends an attempt.
bool IsFinalTaskState(const std::string& state);

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

}  // namespace allot::api
