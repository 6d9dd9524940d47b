// The scheduler core's entry point: a snapshot in, a plan out (architecture.md §1).
// Pure: no clock, no I/O, no randomness; the same snapshot and configuration
// always give the same plan.
#pragma once

#include <memory>
#include <vector>

#include "common/result.h"
#include "core/plan.h"
#include "core/snapshot.h"
#include "sched/actions/action.h"
#include "sched/config.h"
#include "sched/placement/placer.h"
#include "sched/queue_order.h"
#include "sched/workload_order.h"

namespace allot::sched {

class Scheduler {
 public:
  // Fails, naming the entry, when config.actions names an unknown action or
  // a setting is out of range.
  static Result<std::unique_ptr<Scheduler>> Create(SchedulerConfig config);

  // One cycle: fair share, then the configured actions, then the plan with a
  // reason for every workload left (partly) pending. The snapshot must have
  // passed core::ValidateSnapshot(). Not safe to call concurrently on one
  // Scheduler (placement keeps scratch space); use one per thread.
  core::Plan Cycle(const core::Snapshot& snapshot) const;

  const SchedulerConfig& config() const { return config_; }

 private:
  explicit Scheduler(SchedulerConfig config);

  SchedulerConfig config_;
  Placer placer_;
  DominantShareOrder queue_order_;
  PriorityThenAgeOrder workload_order_;
  std::vector<std::unique_ptr<Action>> actions_;
};

}  // namespace allot::sched
