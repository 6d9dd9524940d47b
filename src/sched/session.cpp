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

}  // namespace allot::sched
