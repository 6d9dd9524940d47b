#include "sched/placement/filters.h"

namespace allot::sched {

FilterFailure NodeLabelsFilter::Check(const ClusterState& state, const PlacementContext& ctx,
                                      uint32_t n) const {
  for (const auto& [key, value] : state.spec(ctx.workload).node_selector) {
    if (state.node_label(n, key) != value) return FilterFailure::kLabels;
  }
  return FilterFailure::kPass;
}

}  // namespace allot::sched
