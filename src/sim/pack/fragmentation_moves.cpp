#include "sim/pack/fragmentation_moves.h"

namespace allot::sim {

void FragmentationMoves::Prepare(const PackCluster& cluster, sched::ShapeMix mix,
                                 sched::FragmentationRules rules) {
  memo_ = sched::FragmentationMemo(std::move(mix), rules);
  current_.assign(cluster.size(), 0);
  for (uint32_t n = 0; n < cluster.size(); ++n) Refresh(cluster, n);
}

void FragmentationMoves::Refresh(const PackCluster& cluster, uint32_t n) {
  current_[n] = memo_.Of(cluster.node(n).View());
}

double FragmentationMoves::GrowthOf(const PackNode& node, const OpenbTask& task,
                                    const GpuList& gpus, uint32_t n) const {
  std::array<int64_t, kMaxGpusPerNode> after = node.gpu_free;
  for (int i = 0; i < gpus.count; ++i) after[gpus.index[i]] -= task.gpu_milli;
  sched::NodeFree view{node.model, node.cpu_free - task.cpu_milli,
                       node.memory_free - task.memory_mib, after.data(), node.gpu_count};
  return memo_.Of(view) - current_[n];
}

}  // namespace allot::sim
