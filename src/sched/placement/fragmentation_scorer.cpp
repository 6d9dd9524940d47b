#include "sched/placement/gpu_picker.h"
#include "sched/placement/scorers.h"

namespace allot::sched {

int64_t FragmentationScorer::Score(const ClusterState& state, const PlacementContext& ctx,
                                   uint32_t n) const {
  if (!state.spec(ctx.workload).request.IsFraction()) return 0;
  int64_t room = RoomLeftOnPartialGpu(state, ctx, n);
  if (room >= 0) {
    // 50..100: the less room left on the shared GPU, the better.
    return kMaxScore - room * (kMaxScore / 2) / core::kMilliPerGpu;
  }
  // 0..49: breaking a free GPU; better on a node with few free GPUs.
  const NodeState& node = state.node(n);
  int64_t total = static_cast<int64_t>(node.gpus.size());
  return (kMaxScore / 2 - 1) * (total - node.whole_free + 1) / (total + 1);
}

}  // namespace allot::sched
