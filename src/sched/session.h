// One scheduling cycle's working context, shared by the actions: the state,
// the policies, and what has been decided so far (pending reasons,
// reservations, the consolidation budget).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "core/plan.h"
#include "sched/cluster_state.h"
#include "sched/config.h"
#include "sched/failure_cache.h"
#include "sched/placement/gang_placer.h"
#include "sched/placement/placer.h"
#include "sched/queue_order.h"
#include "sched/workload_order.h"

namespace allot::sched {

struct Session {
  Session(const core::Snapshot& snapshot, const SchedulerConfig& cfg, const Placer& placer_in,
          const QueueOrder& queue_order_in, const WorkloadOrder& workload_order_in)
      : state(snapshot),
        config(cfg),
        placer(placer_in),
        gang_placer(placer_in),
        queue_order(queue_order_in),
        workload_order(workload_order_in),
        reasons(snapshot.workloads.size()),
        failures(state) {}

  // The placement context for tasks of workload w: its backfill horizon.
  PlacementContext ContextFor(uint32_t w) const;
  // Tasks workload w still needs to reach its gang minimum.
  int32_t MissingForMin(uint32_t w) const;
  // Every workload in the workload order. It does not change within a
  // cycle, so it is sorted once, on first use.
  const std::vector<uint32_t>& WorkloadsInOrder() const;

  ClusterState state;
  const SchedulerConfig& config;
  const Placer& placer;
  GangPlacer gang_placer;
  const QueueOrder& queue_order;
  const WorkloadOrder& workload_order;
  std::vector<std::string> reasons;  // per workload, why it still waits
  std::vector<core::Reservation> reservations;
  int32_t moves_left = 0;  // consolidation budget for this cycle
  FailureCache failures;   // attempts known to fail until the state changes

 private:
  mutable std::vector<uint32_t> in_order_;
};

}  // namespace allot::sched
