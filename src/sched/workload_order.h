// The policy that orders workloads inside one queue.
#pragma once

#include "sched/cluster_state.h"

namespace allot::sched {

class WorkloadOrder {
 public:
  virtual ~WorkloadOrder() = default;
  // True when workload `a` should be tried before `b` (same queue).
  virtual bool Before(const ClusterState& state, uint32_t a, uint32_t b) const = 0;
};

// Higher priority first, then older (earlier submitted), then snapshot order.
class PriorityThenAgeOrder final : public WorkloadOrder {
 public:
  bool Before(const ClusterState& state, uint32_t a, uint32_t b) const override {
    const WorkloadState& sa = state.workload(a);
    const WorkloadState& sb = state.workload(b);
    if (sa.priority != sb.priority) return sa.priority > sb.priority;
    if (sa.submitted_at != sb.submitted_at) return sa.submitted_at < sb.submitted_at;
    return a < b;
  }
};

}  // namespace allot::sched
