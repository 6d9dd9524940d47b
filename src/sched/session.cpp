#include "sched/session.h"

#include <algorithm>

namespace allot::sched {

PlacementContext Session::ContextFor(uint32_t w) const {
  PlacementContext ctx;
  ctx.workload = w;
  const auto& spec = state.spec(w);
  if (spec.max_runtime) ctx.ends_by = state.now() + *spec.max_runtime;
  return ctx;
}

int32_t Session::MissingForMin(uint32_t w) const {
  const WorkloadState& ws = state.workload(w);
  return std::max(0, ws.min_tasks - ws.placed);
}

const std::vector<uint32_t>& Session::WorkloadsInOrder() const {
  if (in_order_.size() != state.workload_count()) {
    in_order_.resize(state.workload_count());
    for (uint32_t w = 0; w < in_order_.size(); ++w) in_order_[w] = w;
    workload_order.Sort(state, in_order_);
  }
  return in_order_;
}

}  // namespace allot::sched
