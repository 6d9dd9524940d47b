#include "sched/placement/tie_breaker.h"

namespace allot::sched {

int TieBreaker::Compare(const ClusterState& state, const PlacementContext& ctx, uint32_t a,
                        uint32_t b) const {
  if (!Compares(state, a, b)) return 0;
  std::optional<int64_t> key_a = Key(state, ctx, a);
  std::optional<int64_t> key_b = Key(state, ctx, b);
  if (!key_a || !key_b || *key_a == *key_b) return 0;
  return *key_a < *key_b ? -1 : 1;
}

}  // namespace allot::sched
