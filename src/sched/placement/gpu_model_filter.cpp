#include "sched/placement/filters.h"
#include "sched/placement/gpu_picker.h"

namespace allot::sched {

FilterFailure GpuModelFilter::Check(const ClusterState& state, const PlacementContext& ctx,
                                    uint32_t n) const {
  if (!state.spec(ctx.workload).request.UsesGpu()) return FilterFailure::kPass;
  for (const GpuState& gpu : state.node(n).gpus) {
    if (ModelAllowed(state, ctx, gpu.model)) return FilterFailure::kPass;
  }
  return FilterFailure::kGpuModel;
}

}  // namespace allot::sched
