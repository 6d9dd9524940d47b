#include "wire/heartbeat.h"

#include "common/quantity.h"
#include "wire/json_reader.h"

namespace allot::wire {

using nlohmann::json;

Result<GpuUsageSample> DecodeGpuUsage(const json& gpu) {
  if (!gpu.is_object()) {
    return Error::Coded("invalid",
                        "gpus: each entry is an object with index, memory_used and "
                        "utilization",
                        "gpus");
  }
  JsonReader reader(gpu, "gpus.");
  int64_t index = 0;
  int64_t memory_used_mib = 0;
  int64_t utilization = 0;
  if (Status s = reader.Int("index", index, 0, 1023); !s) return s.error();
  if (Status s = reader.Quantity("memory_used", memory_used_mib, ParseMebibytes); !s) {
    return s.error();
  }
  if (Status s = reader.Int("utilization", utilization, 0, 100); !s) return s.error();
  if (Status s = reader.Finish(); !s) return s.error();
  return GpuUsageSample{static_cast<int>(index), memory_used_mib, static_cast<int>(utilization)};
}

Result<TaskUsageReport> DecodeTaskUsage(const json& entry) {
  if (!entry.is_object()) {
    return Error::Coded("invalid", "tasks: each entry is an object with workload, task, attempt",
                        "tasks");
  }
  JsonReader reader(entry, "tasks.");
  TaskUsageReport report;
  if (Status s = reader.String("workload", report.workload, true); !s) return s.error();
  if (Status s = reader.Int32("task", report.task, 0, INT32_MAX); !s) return s.error();
  if (Status s = reader.Int32("attempt", report.attempt, 0, INT32_MAX); !s) return s.error();
  if (Status s = reader.Int("pid", report.pid, 0, INT32_MAX); !s) return s.error();
  if (Status s = reader.Int("gpu_utilization", report.utilization, 0, 100); !s) return s.error();
  if (Status s = reader.Quantity("gpu_memory_used", report.memory_mib, ParseMebibytes); !s) {
    return s.error();
  }
  if (Status s = reader.Finish(); !s) return s.error();
  return report;
}

}  // namespace allot::wire
