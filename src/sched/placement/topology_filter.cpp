#include "sched/placement/filters.h"

namespace allot::sched {

FilterFailure TopologyFilter::Check(const ClusterState& state, const PlacementContext& ctx,
                                    uint32_t n) const {
  if (ctx.domain_level.empty()) return FilterFailure::kPass;
  return state.node_label(n, ctx.domain_level) == ctx.domain_value ? FilterFailure::kPass
                                                                   : FilterFailure::kTopology;
}

}  // namespace allot::sched
