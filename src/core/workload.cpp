#include "core/workload.h"

namespace allot::core {

KindDefaults DefaultsFor(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kTraining:
      return {50, true};
    case WorkloadKind::kDistributed:
      return {50, true};
    case WorkloadKind::kInteractive:
      return {100, false};
    case WorkloadKind::kInference:
      return {125, false};
  }
  return {50, true};
}

std::optional<WorkloadKind> ParseWorkloadKind(std::string_view text) {
  if (text == "training") return WorkloadKind::kTraining;
  if (text == "distributed") return WorkloadKind::kDistributed;
  if (text == "interactive") return WorkloadKind::kInteractive;
  if (text == "inference") return WorkloadKind::kInference;
  return std::nullopt;
}

const char* WorkloadKindName(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kTraining:
      return "training";
    case WorkloadKind::kDistributed:
      return "distributed";
    case WorkloadKind::kInteractive:
      return "interactive";
    case WorkloadKind::kInference:
      return "inference";
  }
  return "training";
}

GpuShare ShareOfGpu(const TaskRequest& request, int64_t gpu_memory_mib) {
  if (!request.IsFraction()) return {kMilliPerGpu, gpu_memory_mib};
  if (request.gpu_memory_mib > 0) {
    int64_t milli =
        gpu_memory_mib <= 0
            ? kMilliPerGpu
            : (request.gpu_memory_mib * kMilliPerGpu + gpu_memory_mib - 1) / gpu_memory_mib;
    return {milli, request.gpu_memory_mib};
  }
  return {request.gpu_milli, request.gpu_milli * gpu_memory_mib / kMilliPerGpu};
}

int32_t Workload::PlacedTasks() const {
  int32_t placed = 0;
  for (const auto& t : tasks) placed += t.placement.has_value() ? 1 : 0;
  return placed;
}

}  // namespace allot::core
