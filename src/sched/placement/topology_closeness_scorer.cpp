#include <algorithm>

#include "sched/placement/scorers.h"

namespace allot::sched {

int64_t TopologyClosenessScorer::Score(const ClusterState& state, const PlacementContext& ctx,
                                       uint32_t n) const {
  if (ctx.member_nodes.empty()) return 0;
  if (std::find(ctx.member_nodes.begin(), ctx.member_nodes.end(), n) != ctx.member_nodes.end()) {
    return kMaxScore;
  }
  const auto& anchor = state.snapshot().nodes[ctx.member_nodes.front()].labels;
  if (anchor.empty()) return 0;
  int64_t shared = 0;
  for (const auto& [key, value] : anchor) shared += state.node_label(n, key) == value ? 1 : 0;
  return (kMaxScore - 10) * shared / static_cast<int64_t>(anchor.size());
}

}  // namespace allot::sched
