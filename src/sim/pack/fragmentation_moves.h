// The moves a fragmentation-aware policy weighs: for one task on one node,
// each distinct way to take GPUs and how much it grows the node's
// fragmentation. Keeps every node's current fragmentation so that a move
// costs one evaluation of the node after it, and remembers evaluations by
// node state (sched::FragmentationMemo), since alike nodes recur.
#pragma once

#include <vector>

#include "sched/placement/fragmentation_memo.h"
#include "sim/pack/pack_cluster.h"

namespace allot::sim {

struct FragmentationMove {
  GpuList gpus;
  double growth = 0;  // fragmentation after minus before, milli-GPU
  double score = 0;   // the policy's score of the move
};

class FragmentationMoves {
 public:
  void Prepare(const PackCluster& cluster, sched::ShapeMix mix, sched::FragmentationRules rules);
  // Recomputes node n's fragmentation after a change.
  void Refresh(const PackCluster& cluster, uint32_t n);

  // The best-scoring move of `task` on feasible node n; `score(growth)`
  // scores a move (higher is better; the lowest-numbered GPU wins ties). A
  // fraction may take any GPU with room; whole GPUs take the lowest-numbered
  // free ones (which free ones does not change the measure).
  template <typename ScoreFn>
  FragmentationMove BestMove(const PackCluster& cluster, uint32_t n, const OpenbTask& task,
                             ScoreFn score) const {
    const PackNode& node = cluster.node(n);
    FragmentationMove best;
    if (!task.IsFraction()) {
      best.gpus = LowestFreeGpus(node, task);
      best.growth = GrowthOf(node, task, best.gpus, n);
      best.score = score(best.growth);
      return best;
    }
    bool found = false;
    for (int g = 0; g < node.gpu_count; ++g) {
      if (node.gpu_free[g] < task.gpu_milli) continue;
      bool seen = false;  // an equal GPU earlier gives the same move
      for (int h = 0; h < g && !seen; ++h) seen = node.gpu_free[h] == node.gpu_free[g];
      if (seen) continue;
      GpuList gpus;
      gpus.Add(g);
      double growth = GrowthOf(node, task, gpus, n);
      double s = score(growth);
      if (!found || s > best.score) {
        best = {gpus, growth, s};
        found = true;
      }
    }
    return best;
  }

  double Fragmentation(uint32_t n) const { return current_[n]; }
  // How much node n's fragmentation grows when `task` takes `gpus` there.
  double Growth(const PackCluster& cluster, uint32_t n, const OpenbTask& task,
                const GpuList& gpus) const {
    return GrowthOf(cluster.node(n), task, gpus, n);
  }

 private:
  double GrowthOf(const PackNode& node, const OpenbTask& task, const GpuList& gpus,
                  uint32_t n) const;

  // A cache: answers exactly as computing, so const methods may fill it.
  mutable sched::FragmentationMemo memo_;
  std::vector<double> current_;
};

}  // namespace allot::sim
