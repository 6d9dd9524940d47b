#include "sched/actions/action.h"
#include "sched/pending_walk.h"
#include "sched/reservation.h"

namespace allot::sched {

void AllocateAction::Execute(Session& session) const {
  ReserveForStarvingGangs(session);
  ClusterState& state = session.state;

  // Gangs that just reserved were tried already this cycle.
  std::vector<uint32_t> below_min;
  for (uint32_t w : WorkloadsBelowMin(session)) {
    bool reserved = false;
    for (const auto& r : session.reservations) reserved = reserved || r.workload == w;
    if (!reserved) below_min.push_back(w);
  }
  PendingWalk minimums(session, below_min);
  for (uint32_t w = minimums.Next(); w != kNone; w = minimums.Next()) {
    int32_t missing = session.MissingForMin(w);
    if (missing > 0) TryAllocate(session, w, missing);
  }

  // Elastic workloads grow above their minimum, one task at a time, in the
  // same queue order, after every minimum has had its turn.
  std::vector<uint32_t> elastic;
  for (uint32_t w = 0; w < state.workload_count(); ++w) {
    const WorkloadState& ws = state.workload(w);
    if (ws.placed >= ws.min_tasks && ws.placed < ws.tasks) elastic.push_back(w);
  }
  PendingWalk extras(session, elastic);
  for (uint32_t w = extras.Next(); w != kNone; w = extras.Next()) {
    while (state.workload(w).placed < state.spec(w).tasks && TryAllocate(session, w, 1)) {
    }
  }
}

}  // namespace allot::sched
