// What each running task does with its GPUs, for the heartbeat
// (docs/agent-protocol.md §2) and from there the dashboard's GPU-hogging
// view and the projects' idle rules:
//   - a task on whole GPUs: NVML's utilization of its GPUs (their mean) and
//     the memory used on them;
//   - a fraction: the GPU time and memory that the interposer's ledger
//     (src/cuda/gpu_board.h) holds for the task's tenant, the time as a
//     share of one GPU over the interval since the previous reading.
// A task that cannot be measured (simulated GPUs, a fraction's first
// reading) has no gpu_utilization: the server never calls it idle.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/inventory.h"

namespace allot::cuda {
class GpuBoard;
}

namespace allot::agent {

struct RunningTask {
  std::string workload;
  int32_t task = 0;
  int32_t attempt = 0;
  int pid = 0;
  std::vector<std::string> gpu_uuids;
  std::string tenant;  // ALLOT_GPU_TENANT of a fraction; empty on whole GPUs
  // A fraction's GPU time is in the ledger only when the interposer gates
  // its launches (a compute share under 100 %); else its memory only.
  bool gpu_time_in_ledger = true;
};

class TaskUsageMeter {
 public:
  // `ledger_dir`: where the interposer keeps its ledgers (/dev/shm, or
  // $ALLOT_GPU_LEDGER_DIR in tests).
  explicit TaskUsageMeter(std::string ledger_dir);
  ~TaskUsageMeter();

  // The heartbeat's "tasks" entries: workload, task, attempt, pid, and
  // gpu_utilization (percent) and gpu_memory_used where measured. `gpus`:
  // the node's NVML readings.
  nlohmann::json Measure(const std::vector<RunningTask>& tasks, const std::vector<GpuUsage>& gpus,
                         int64_t now_ms);
  // The entries without GPU use: for simulated GPUs, which nothing runs on.
  static nlohmann::json Unmeasured(const std::vector<RunningTask>& tasks);

 private:
  struct Reading {
    uint64_t gpu_ns = 0;
    int64_t time_ms = 0;
  };
  cuda::GpuBoard* Board(const std::string& uuid);

  std::string ledger_dir_;
  std::map<std::string, std::unique_ptr<cuda::GpuBoard>> boards_;  // by GPU UUID
  std::map<std::string, Reading> last_;                            // by tenant
};

}  // namespace allot::agent
