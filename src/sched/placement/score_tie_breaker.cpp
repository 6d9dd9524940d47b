#include "sched/placement/tie_breakers.h"

namespace allot::sched {

int ScoreTieBreaker::Compare(const ClusterState& state, const PlacementContext& ctx, uint32_t a,
                             uint32_t b) const {
  int64_t score_a = scorer_->Score(state, ctx, a);
  int64_t score_b = scorer_->Score(state, ctx, b);
  return score_a > score_b ? -1 : (score_a < score_b ? 1 : 0);
}

}  // namespace allot::sched
