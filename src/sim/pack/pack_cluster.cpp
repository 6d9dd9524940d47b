#include "sim/pack/pack_cluster.h"

namespace allot::sim {

int64_t PackNode::IdleMilli() const {
  int64_t idle = 0;
  for (int g = 0; g < gpu_count; ++g) idle += gpu_free[g];
  return idle;
}

int PackNode::WholeFree() const {
  int whole = 0;
  for (int g = 0; g < gpu_count; ++g) whole += gpu_free[g] == kMilliPerGpu;
  return whole;
}

int ShapeTag(const OpenbTask& task) {
  if (task.gpus == 0) return -1;
  return task.IsFraction() ? 0 : task.gpus;
}

PackCluster::PackCluster(const OpenbCluster& cluster, const std::vector<uint32_t>& order) {
  nodes_.reserve(order.size());
  for (uint32_t index : order) {
    const OpenbNode& source = cluster.nodes[index];
    PackNode node;
    node.name = source.name;
    node.model = source.model;
    node.cpu_capacity = source.cpu_milli;
    node.cpu_free = source.cpu_milli;
    node.memory_free = source.memory_mib;
    node.gpu_count = source.gpus;
    for (int g = 0; g < node.gpu_count; ++g) node.gpu_free[g] = kMilliPerGpu;
    capacity_milli_ += node.gpu_count * kMilliPerGpu;
    nodes_.push_back(std::move(node));
  }
}

bool PackCluster::Fits(uint32_t n, const OpenbTask& task) const {
  const PackNode& node = nodes_[n];
  if (node.cpu_free < task.cpu_milli || node.memory_free < task.memory_mib) return false;
  if (task.gpus == 0) return true;
  if (task.allowed != 0 && (node.model < 0 || !((task.allowed >> node.model) & 1u))) return false;
  int found = 0;
  for (int g = 0; g < node.gpu_count; ++g) {
    if (node.gpu_free[g] >= task.gpu_milli && ++found >= task.gpus) return true;
  }
  return false;
}

bool PackCluster::FitsOn(uint32_t n, const OpenbTask& task, const GpuList& gpus) const {
  if (n >= nodes_.size() || !Fits(n, task) || gpus.count != task.gpus) return false;
  const PackNode& node = nodes_[n];
  for (int i = 0; i < gpus.count; ++i) {
    int g = gpus.index[i];
    if (g < 0 || g >= node.gpu_count || node.gpu_free[g] < task.gpu_milli) return false;
    for (int j = 0; j < i; ++j) {
      if (gpus.index[j] == g) return false;
    }
  }
  return true;
}

void PackCluster::Bind(uint32_t n, const OpenbTask& task, const GpuList& gpus) {
  PackNode& node = nodes_[n];
  node.cpu_free -= task.cpu_milli;
  node.memory_free -= task.memory_mib;
  for (int i = 0; i < gpus.count; ++i) node.gpu_free[gpus.index[i]] -= task.gpu_milli;
  allocated_milli_ += task.TotalGpuMilli();
  int tag = ShapeTag(task);
  if (tag >= 0 && node.shape_count[tag]++ == 0) ++node.distinct_shapes;
}

GpuList LowestFreeGpus(const PackNode& node, const OpenbTask& task) {
  GpuList list;
  for (int g = 0; g < node.gpu_count && list.count < task.gpus; ++g) {
    if (node.gpu_free[g] == kMilliPerGpu) list.Add(g);
  }
  return list;
}

GpuList TightestGpus(const PackNode& node, const OpenbTask& task) {
  if (!task.IsFraction()) return LowestFreeGpus(node, task);
  int best = -1;
  for (int g = 0; g < node.gpu_count; ++g) {
    if (node.gpu_free[g] >= task.gpu_milli &&
        (best < 0 || node.gpu_free[g] < node.gpu_free[best])) {
      best = g;
    }
  }
  GpuList list;
  if (best >= 0) list.Add(best);
  return list;
}

}  // namespace allot::sim
