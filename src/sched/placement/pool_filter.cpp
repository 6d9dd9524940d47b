#include <algorithm>

#include "sched/placement/filters.h"

namespace allot::sched {

FilterFailure PoolFilter::Check(const ClusterState& state, const PlacementContext& ctx,
                                uint32_t n) const {
  const auto& pools = state.spec(ctx.workload).pools;
  if (pools.empty()) return FilterFailure::kPass;
  const std::string& pool = state.snapshot().nodes[n].pool;
  if (ctx.pool_choice >= 0) {
    return pool == pools[static_cast<size_t>(ctx.pool_choice)] ? FilterFailure::kPass
                                                               : FilterFailure::kPool;
  }
  return std::find(pools.begin(), pools.end(), pool) != pools.end() ? FilterFailure::kPass
                                                                    : FilterFailure::kPool;
}

}  // namespace allot::sched
