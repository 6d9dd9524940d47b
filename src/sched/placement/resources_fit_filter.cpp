#include "sched/placement/filters.h"
#include "sched/placement/gpu_picker.h"

namespace allot::sched {

FilterFailure ResourcesFitFilter::Check(const ClusterState& state, const PlacementContext& ctx,
                                        uint32_t n) const {
  const auto& request = state.spec(ctx.workload).request;
  const NodeState& node = state.node(n);
  if (request.UsesGpu() && !GpusFit(state, ctx, node.gpus, node.whole_free)) {
    return FilterFailure::kGpu;
  }
  if (node.cpu_free < request.cpu_milli) return FilterFailure::kCpu;
  if (node.memory_free < request.memory_mib) return FilterFailure::kMemory;
  return FilterFailure::kPass;
}

}  // namespace allot::sched
