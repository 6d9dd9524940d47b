#include "core/apply_plan.h"

namespace allot::core {

void ApplyPlan(const Plan& plan, Snapshot& world) {
  for (const auto& e : plan.evictions) {
    world.workloads[e.task.workload].tasks[e.task.task].placement.reset();
  }
  for (const auto& b : plan.binds) {
    auto& task = world.workloads[b.task.workload].tasks[b.task.task];
    task.placement = b.placement;
    task.running_since = world.now;
  }
  for (auto& w : world.workloads) {
    int32_t placed = w.PlacedTasks();
    if (placed > 0 && placed < w.spec.min_tasks) {
      if (!w.below_min_since) w.below_min_since = world.now;
    } else {
      w.below_min_since.reset();
    }
  }
}

}  // namespace allot::core
