#include "agent/task_usage.h"

#include <algorithm>

#include "cuda/gpu_board.h"

namespace allot::agent {

using nlohmann::json;

TaskUsageMeter::TaskUsageMeter(std::string ledger_dir) : ledger_dir_(std::move(ledger_dir)) {}
TaskUsageMeter::~TaskUsageMeter() = default;

cuda::GpuBoard* TaskUsageMeter::Board(const std::string& uuid) {
  auto found = boards_.find(uuid);
  if (found != boards_.end()) return found->second.get();
  auto opened = cuda::GpuBoard::Open(uuid, ledger_dir_);
  if (!opened) return nullptr;  // tried again at the next heartbeat
  return boards_.emplace(uuid, std::move(*opened)).first->second.get();
}

json TaskUsageMeter::Unmeasured(const std::vector<RunningTask>& tasks) {
  json out = json::array();
  for (const RunningTask& task : tasks) {
    out.push_back({{"workload", task.workload},
                   {"task", task.task},
                   {"attempt", task.attempt},
                   {"pid", task.pid}});
  }
  return out;
}

json TaskUsageMeter::Measure(const std::vector<RunningTask>& tasks,
                             const std::vector<GpuUsage>& gpus, int64_t now_ms) {
  std::map<std::string, const GpuUsage*> by_uuid;
  for (const GpuUsage& gpu : gpus) by_uuid[gpu.uuid] = &gpu;
  std::map<std::string, Reading> seen;
  json out = Unmeasured(tasks);
  for (size_t i = 0; i < tasks.size(); ++i) {
    const RunningTask& task = tasks[i];
    json& entry = out[i];
    if (task.tenant.empty()) {
      // Whole GPUs: the device's own figures are the task's.
      int64_t utilization = 0;
      int64_t memory_mib = 0;
      size_t measured = 0;
      for (const std::string& uuid : task.gpu_uuids) {
        auto gpu = by_uuid.find(uuid);
        if (gpu == by_uuid.end()) continue;
        utilization += gpu->second->utilization;
        memory_mib += gpu->second->memory_used_mib;
        ++measured;
      }
      if (measured > 0 && measured == task.gpu_uuids.size()) {
        entry["gpu_utilization"] = utilization / static_cast<int64_t>(measured);
        entry["gpu_memory_used"] = std::to_string(memory_mib) + "Mi";
      }
    } else if (task.gpu_uuids.size() == 1) {
      // A fraction: its tenant's processes in the GPU's ledger.
      cuda::GpuBoard* board = Board(task.gpu_uuids[0]);
      if (board) {
        uint64_t gpu_ns = 0;
        uint64_t bytes = 0;
        for (const cuda::ProcessUsage& process : board->ReadUsage()) {
          if (process.tenant != task.tenant) continue;
          gpu_ns += process.gpu_ns;
          bytes += process.bytes;
        }
        entry["gpu_memory_used"] = std::to_string((bytes + (1 << 20) - 1) >> 20) + "Mi";
        auto last = last_.find(task.tenant);
        // A process that ended takes its GPU time with it: then the
        // interval starts again from this reading.
        if (task.gpu_time_in_ledger && last != last_.end() && now_ms > last->second.time_ms &&
            gpu_ns >= last->second.gpu_ns) {
          double busy_ms = static_cast<double>(gpu_ns - last->second.gpu_ns) / 1e6;
          double percent = 100.0 * busy_ms / static_cast<double>(now_ms - last->second.time_ms);
          entry["gpu_utilization"] =
              std::clamp<int64_t>(static_cast<int64_t>(percent + 0.5), 0, 100);
        }
        seen[task.tenant] = {gpu_ns, now_ms};
      }
    }
  }
  last_ = std::move(seen);  // tenants no longer running are forgotten
  return out;
}

}  // namespace allot::agent
