// What an agent reports about a task (docs/agent-protocol.md §4): the
// report's form and its states. What the server makes of it is
// server/task_lifecycle.h.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "wire/resources.h"

namespace allot::wire {

struct TaskReport {
  std::string node;
  int32_t attempt = 0;
  TaskState state = TaskState::kNone;  // starting, running, exited, killed, failed_to_start, lost
  int32_t pid = 0;
  int32_t exit_code = 0;  // exited
  int32_t signal = 0;     // killed
  std::string reason;     // failed_to_start (required), others (optional)
  int64_t time_ms = 0;    // when it started (running) or ended
  // A service replica's readiness (running only): whether its port, or its
  // ready path, answers, and why not.
  bool ready = false;
  std::string ready_reason;
};
Result<TaskReport> DecodeTaskReport(const nlohmann::json& body);

}  // namespace allot::wire
