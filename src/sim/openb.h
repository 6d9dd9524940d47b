// The openb trace files (Alibaba cluster-trace-gpu-v2023): the node list and
// the task lists. See ../shared/data/openb/README.md for the columns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace allot::sim {

inline constexpr int kMaxGpusPerNode = 16;
inline constexpr int64_t kMilliPerGpu = 1000;

// GPU model names, numbered in order of first appearance in the node file.
// A bit mask over these numbers says which models a task may use.
class ModelNames {
 public:
  // The number of `name`, adding it if new. At most 32 models.
  Result<int> Add(const std::string& name);
  // The number of `name`, or -1.
  int Find(const std::string& name) const;
  const std::string& Name(int id) const { return names_[id]; }
  int size() const { return static_cast<int>(names_.size()); }
  // "T4, V100": every name, for error messages.
  std::string Joined() const;

 private:
  std::vector<std::string> names_;
};

struct OpenbNode {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int gpus = 0;
  int model = -1;  // number in ModelNames; -1 for a node without GPUs
};

struct OpenbTask {
  std::string name;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int gpus = 0;             // 0: CPU only
  int64_t gpu_milli = 0;    // per GPU; < 1000 only when gpus == 1
  std::string gpu_spec;     // raw "A|B" list, "" for any model
  uint32_t allowed = 0;     // mask over model numbers; 0 = any model
  std::string qos;          // LS, BE, Burstable, Guaranteed, or "" when absent
  int64_t creation_s = -1;  // seconds; -1 when the file has no timestamps
  int64_t deletion_s = -1;

  int64_t TotalGpuMilli() const { return gpu_milli * gpus; }
  bool IsFraction() const { return gpus == 1 && gpu_milli < kMilliPerGpu; }
};

struct OpenbCluster {
  ModelNames models;
  std::vector<OpenbNode> nodes;
  int64_t TotalGpuMilli() const;
};

// Reads a node list (sn,cpu_milli,memory_mib,gpu,model).
Result<OpenbCluster> LoadOpenbNodes(const std::string& path);

// Reads a task list. Every GPU model a task names must exist in `cluster`
// (a task that could never run is reported before anything runs).
Result<std::vector<OpenbTask>> LoadOpenbTasks(const std::string& path, const OpenbCluster& cluster);

// "openb_pod_list_default" for ".../openb_pod_list_default.csv".
std::string WorkloadName(const std::string& path);

}  // namespace allot::sim
