// A replay trace: one row per submitted workload, in CSV with the header
//   arrival_s,project,kind,tasks,min_tasks,gpu,cpu_milli,memory_mib,duration_s[,gpu_model]
// `gpu` is per task: a fraction below 1 (0.25) or whole GPUs (1, 2, 8);
// `kind` is training, distributed, interactive or inference; `gpu_model` is
// optional, "A|B" to allow models A or B. And a quota file
//   project,gpus
// with each project's guaranteed GPUs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/workload.h"
#include "sim/openb.h"

namespace allot::sim {

struct TraceRow {
  int64_t arrival_s = 0;
  std::string project;
  core::WorkloadKind kind = core::WorkloadKind::kTraining;
  int32_t tasks = 1;
  int32_t min_tasks = 1;
  int64_t gpu_milli = 0;  // per task: < 1000 a fraction, else whole GPUs x 1000
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int64_t duration_s = 1;
  std::string gpu_model;  // "" any, else "A|B"
};

struct ProjectQuota {
  std::string project;
  int64_t gpus = 0;
};

// Reads a trace; rows must be in arrival order. Every GPU model named must
// exist in `cluster`.
Result<std::vector<TraceRow>> LoadTrace(const std::string& path, const OpenbCluster& cluster);
Result<std::vector<ProjectQuota>> LoadQuotas(const std::string& path);

std::string FormatTrace(const std::vector<TraceRow>& rows);
std::string FormatQuotas(const std::vector<ProjectQuota>& quotas);

}  // namespace allot::sim
