#include "sched/placement/tie_breakers.h"

namespace allot::sched {

std::optional<int64_t> ScoreTieBreaker::Key(const ClusterState& state, const PlacementContext& ctx,
                                            uint32_t n) const {
  return -scorer_->Score(state, ctx, n);
}

}  // namespace allot::sched
