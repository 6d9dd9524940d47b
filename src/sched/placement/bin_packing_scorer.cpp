#include "sched/placement/scorers.h"

namespace allot::sched {

int64_t BinPackingScorer::Score(const ClusterState& state, const PlacementContext& ctx,
                                uint32_t n) const {
  const auto& request = state.spec(ctx.workload).request;
  if (request.IsFraction()) return 0;
  const NodeState& node = state.node(n);
  int64_t total = static_cast<int64_t>(node.gpus.size());
  if (total == 0) return kMaxScore;
  int64_t free_after = node.whole_free - request.WholeGpus();
  return kMaxScore * (total - free_after) / total;
}

}  // namespace allot::sched
