#include "sched/move_targets.h"

#include <algorithm>

namespace allot::sched {

MoveTargets::MoveTargets(const Session& session) : session_(session) {
  const ClusterState& state = session.state;
  for (uint32_t n = 0; n < state.node_count(); ++n) {
    uint32_t holder = state.node(n).reserved_for;
    if (state.node(n).reserved_gpus > 0 && holder != kNone) holders_.push_back(holder);
  }
  std::sort(holders_.begin(), holders_.end());
}

const std::array<uint32_t, 2>& MoveTargets::FitsOf(uint32_t w) {
  const ClusterState& state = session_.state;
  const core::WorkloadSpec& spec = state.spec(w);
  const core::TaskRequest& r = spec.request;
  Key key{r.gpu_milli,
          r.gpu_memory_mib,
          r.cpu_milli,
          r.memory_mib,
          spec.gpu_models,
          spec.node_selector,
          spec.pools,
          spec.max_runtime.value_or(-1),
          std::binary_search(holders_.begin(), holders_.end(), w) ? w : kNone};
  auto [it, inserted] = fits_.try_emplace(std::move(key), std::array<uint32_t, 2>{kNone, kNone});
  if (!inserted) return it->second;
  PlacementContext ctx = session_.ContextFor(w);
  size_t found = 0;
  for (uint32_t n = 0; n < state.node_count() && found < 2; ++n) {
    if (session_.placer.Check(state, ctx, n, /*static_only=*/false) == FilterFailure::kPass) {
      it->second[found++] = n;
    }
  }
  return it->second;
}

bool MoveTargets::MayMove(const VictimUnit& unit, uint32_t from) {
  const std::array<uint32_t, 2>& fits = FitsOf(unit.workload);
  return (fits[0] != kNone && fits[0] != from) || (fits[1] != kNone && fits[1] != from);
}

}  // namespace allot::sched
