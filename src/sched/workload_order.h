// The policy that orders workloads inside one queue.
#pragma once

#include <vector>

#include "sched/cluster_state.h"

namespace allot::sched {

class WorkloadOrder {
 public:
  virtual ~WorkloadOrder() = default;
  // True when workload `a` should be tried before `b` (same queue).
  virtual bool Before(const ClusterState& state, uint32_t a, uint32_t b) const = 0;
  // Sorts `workloads` into the order Before() defines (a strict total
  // order). A cycle sorts every workload once; the default sorts with
  // Before(), and an order that is a plain key may sort copies of the keys
  // instead, which is several times faster on hundreds of thousands.
  virtual void Sort(const ClusterState& state, std::vector<uint32_t>& workloads) const;
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
  // Sorts (priority, submitted_at, index) keys side by side rather than
  // looking each workload up in the state for every comparison.
  void Sort(const ClusterState& state, std::vector<uint32_t>& workloads) const override;
};

}  // namespace allot::sched
