// What an agent's heartbeat carries (docs/agent-protocol.md §3): the GPU
// use of its node's GPUs and of the tasks that run there, as the agent
// measured it (agent/task_usage.h), and their strict decoding.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "common/result.h"

namespace allot::wire {

// What a heartbeat says about one GPU of its node (real GPUs only:
// simulated ones report nothing).
struct GpuUsageSample {
  int index = 0;
  int64_t memory_used_mib = 0;
  int utilization_percent = 0;
};
// {"index", "memory_used" ("512Mi"), "utilization" (percent)}.
Result<GpuUsageSample> DecodeGpuUsage(const nlohmann::json& gpu);

// One task of a heartbeat: which attempt runs, and what it does with its
// GPUs when the agent could measure it.
struct TaskUsageReport {
  std::string workload;
  int32_t task = 0;
  int32_t attempt = 0;
  int64_t pid = 0;
  int64_t utilization = -1;  // percent; -1: not measured
  int64_t memory_mib = 0;
};
// {"workload", "task", "attempt", "pid", "gpu_utilization", "gpu_memory_used"}.
Result<TaskUsageReport> DecodeTaskUsage(const nlohmann::json& entry);

}  // namespace allot::wire
