// Workloads and their tasks (architecture.md §3). A workload is one or more tasks
// of one shape with a gang minimum: all of the minimum runs or none of it.
// Tasks above the minimum (an elastic workload) run when there is room.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/resources.h"
#include "core/time.h"

namespace allot::core {

enum class WorkloadKind { kTraining, kDistributed, kInteractive, kInference };

// The priority and preemptibility a kind has when the submitter gives none.
struct KindDefaults {
  int32_t priority;
  bool preemptible;
};
KindDefaults DefaultsFor(WorkloadKind kind);
std::optional<WorkloadKind> ParseWorkloadKind(std::string_view text);
// The inverse of ParseWorkloadKind: "training", "distributed", ...
const char* WorkloadKindName(WorkloadKind kind);

// What one task asks for. GPUs are either whole (gpu_milli a multiple of
// 1000), one fraction of one GPU by milli-GPU (gpu_milli < 1000), or one
// fraction by GPU memory (gpu_memory_mib > 0, gpu_milli 0).
struct TaskRequest {
  int64_t gpu_milli = 0;
  int64_t gpu_memory_mib = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;

  bool IsFraction() const {
    return gpu_memory_mib > 0 || (gpu_milli > 0 && gpu_milli < kMilliPerGpu);
  }
  // Whole GPUs asked for; 0 for fractions and CPU-only tasks.
  int32_t WholeGpus() const {
    return IsFraction() ? 0 : static_cast<int32_t>(gpu_milli / kMilliPerGpu);
  }
  bool UsesGpu() const { return gpu_milli > 0 || gpu_memory_mib > 0; }
  friend bool operator==(const TaskRequest&, const TaskRequest&) = default;
};

// What a task takes of one GPU it is placed on.
struct GpuShare {
  int64_t milli = 0;
  int64_t memory_mib = 0;
};
// The share of a GPU with `gpu_memory_mib` of memory that one task of
// `request` takes on each of its GPUs: a whole GPU, milli-GPU with the same
// proportion of memory, or memory with the milli-GPU it amounts to (rounded
// up, so a GPU is never over-allocated in either unit).
GpuShare ShareOfGpu(const TaskRequest& request, int64_t gpu_memory_mib);

// Where a task runs: a node (index into the snapshot's nodes) and the
// positions of its GPUs in that node's GPU list.
struct Placement {
  uint32_t node = 0;
  std::vector<int32_t> gpus;
  friend bool operator==(const Placement&, const Placement&) = default;
};

struct Topology {
  std::string required;   // a label key; all tasks in one domain of it
  std::string preferred;  // a lower label key; one domain of it if possible
  friend bool operator==(const Topology&, const Topology&) = default;
};

struct WorkloadSpec {
  std::string name;
  std::string queue;  // a leaf of the quota tree
  WorkloadKind kind = WorkloadKind::kTraining;
  int32_t priority = 50;
  bool preemptible = true;
  int32_t tasks = 1;
  int32_t min_tasks = 1;                             // the gang minimum
  TaskRequest request;                               // per task
  std::vector<std::string> gpu_models;               // allowed models; empty: any
  std::map<std::string, std::string> node_selector;  // required node labels
  // Node pools the workload may use, in order of preference (as Run:ai's
  // --node-pools): placed in the first pool where it fits. Empty: any pool.
  std::vector<std::string> pools;
  Topology topology;
  Time submitted_at = 0;
  // A declared upper bound on run time. Work that declares one may run on
  // GPUs reserved for a starving gang when it ends before they are needed.
  std::optional<Duration> max_runtime;

  friend bool operator==(const WorkloadSpec&, const WorkloadSpec&) = default;
};

struct TaskStatus {
  std::optional<Placement> placement;  // set while bound or running
  Time running_since = 0;
};

// A workload as the scheduler sees it: its spec and where each task is.
struct Workload {
  WorkloadSpec spec;
  std::vector<TaskStatus> tasks;  // size == spec.tasks
  // When a running gang fell below its minimum (a task failed or its node
  // was lost); after a grace period it is evicted whole.
  std::optional<Time> below_min_since;

  int32_t PlacedTasks() const;
};

}  // namespace allot::core
