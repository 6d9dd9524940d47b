#include "sched/actions/action.h"

namespace allot::sched {

void StaleGangAction::Execute(Session& session) const {
  ClusterState& state = session.state;
  for (uint32_t w = 0; w < state.workload_count(); ++w) {
    const WorkloadState& ws = state.workload(w);
    if (ws.placed == 0 || ws.placed >= ws.min_tasks) continue;
    const auto& spec = state.spec(w);
    Time since = state.snapshot().workloads[w].below_min_since.value_or(state.now());
    if (state.now() - since < session.config.stale_gang_grace) continue;
    std::string reason = "gang fell below its minimum of " + std::to_string(spec.min_tasks) +
                         " tasks for longer than the grace period";
    for (uint32_t t = 0; t < static_cast<uint32_t>(spec.tasks); ++t) {
      if (state.IsPlaced({w, t})) state.Evict({w, t}, core::EvictionKind::kGangRestart, reason);
    }
    session.reasons[w] = reason + "; it waits to start again whole";
  }
}

}  // namespace allot::sched
