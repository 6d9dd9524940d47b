#include "sched/placement/filters.h"
#include "sched/placement/gpu_picker.h"

namespace allot::sched {

bool ReservationFilter::MayUseReserved(const ClusterState& state, const PlacementContext& ctx,
                                       uint32_t n) {
  const NodeState& node = state.node(n);
  if (node.reserved_gpus == 0 || node.reserved_for == ctx.workload) return true;
  return ctx.ends_by != core::kNever && ctx.ends_by <= node.reserved_needed_at;
}

FilterFailure ReservationFilter::Check(const ClusterState& state, const PlacementContext& ctx,
                                       uint32_t n) const {
  if (!state.spec(ctx.workload).request.UsesGpu() || MayUseReserved(state, ctx, n)) {
    return FilterFailure::kPass;
  }
  const NodeState& node = state.node(n);
  int32_t usable = node.whole_free - node.reserved_gpus;
  return GpusFit(state, ctx, node.gpus, usable < 0 ? 0 : usable) ? FilterFailure::kPass
                                                                 : FilterFailure::kReserved;
}

}  // namespace allot::sched
