#include "sched/workload_order.h"

#include <algorithm>
#include <tuple>

namespace allot::sched {

void WorkloadOrder::Sort(const ClusterState& state, std::vector<uint32_t>& workloads) const {
  std::sort(workloads.begin(), workloads.end(),
            [&](uint32_t a, uint32_t b) { return Before(state, a, b); });
}

void PriorityThenAgeOrder::Sort(const ClusterState& state, std::vector<uint32_t>& workloads) const {
  struct Key {
    int32_t priority;
    uint32_t workload;
    Time submitted_at;
  };
  std::vector<Key> keys;
  keys.reserve(workloads.size());
  for (uint32_t w : workloads) {
    const WorkloadState& ws = state.workload(w);
    keys.push_back({ws.priority, w, ws.submitted_at});
  }
  // Before() as a comparison of the keys.
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    return std::tie(b.priority, a.submitted_at, a.workload) <
           std::tie(a.priority, b.submitted_at, b.workload);
  });
  for (size_t i = 0; i < keys.size(); ++i) workloads[i] = keys[i].workload;
}

}  // namespace allot::sched
