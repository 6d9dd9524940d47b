// The cluster of the packing experiment: nodes with free CPU, memory and
// per-GPU milli, tasks placed one at a time and never removed. Nodes are kept
// in the seed's shuffled order; policies break ties by taking the node that
// comes first in it.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sched/placement/fragmentation_model.h"
#include "sim/openb.h"

namespace allot::sim {

// The GPUs a task takes on one node, by position.
struct GpuList {
  std::array<int8_t, kMaxGpusPerNode> index{};
  int count = 0;
  void Add(int gpu) { index[count++] = static_cast<int8_t>(gpu); }
};

struct PackNode {
  std::string name;
  int model = -1;
  int64_t cpu_capacity = 0;
  int64_t cpu_free = 0;
  int64_t memory_free = 0;
  int gpu_count = 0;
  std::array<int64_t, kMaxGpusPerNode> gpu_free{};
  // Tasks on the node by GPU shape: [0] fractions, [n] n whole GPUs.
  std::array<int32_t, kMaxGpusPerNode + 1> shape_count{};
  int distinct_shapes = 0;

  int64_t IdleMilli() const;
  int WholeFree() const;
  sched::NodeFree View() const {
    return {model, cpu_free, memory_free, gpu_free.data(), gpu_count};
  }
};

// The shape tag of a task for PackNode::shape_count: 0 for a fraction, n for
// n whole GPUs, -1 for CPU only.
int ShapeTag(const OpenbTask& task);

class PackCluster {
 public:
  // The nodes of `cluster` in the order given by `order` (indexes into it).
  PackCluster(const OpenbCluster& cluster, const std::vector<uint32_t>& order);

  const std::vector<PackNode>& nodes() const { return nodes_; }
  const PackNode& node(uint32_t n) const { return nodes_[n]; }
  size_t size() const { return nodes_.size(); }
  int64_t capacity_milli() const { return capacity_milli_; }
  int64_t allocated_milli() const { return allocated_milli_; }

  // The published fit test: CPU and memory fit, the GPU model is allowed,
  // and a fraction finds one GPU with enough free or a whole-GPU task finds
  // enough entirely free GPUs.
  bool Fits(uint32_t n, const OpenbTask& task) const;

  // Whether the task fits on node n taking exactly `gpus`: Fits, and the
  // list names task.gpus distinct GPUs of the node, each with room.
  bool FitsOn(uint32_t n, const OpenbTask& task, const GpuList& gpus) const;

  // Takes the task's resources on node n and the listed GPUs.
  void Bind(uint32_t n, const OpenbTask& task, const GpuList& gpus);

 private:
  std::vector<PackNode> nodes_;
  int64_t capacity_milli_ = 0;
  int64_t allocated_milli_ = 0;
};

// GPU choices shared by the policies.
// Whole GPUs: the lowest-numbered entirely free GPUs.
GpuList LowestFreeGpus(const PackNode& node, const OpenbTask& task);
// A fraction: the GPU with the least free that still fits (lowest number on
// ties); whole GPUs as LowestFreeGpus.
GpuList TightestGpus(const PackNode& node, const OpenbTask& task);

}  // namespace allot::sim
