// Hands out pending workloads in scheduling order: the queue that the queue
// order ranks first, chosen level by level from the root (so a department
// below its share is served before its projects are compared), and inside a
// queue by the workload order. Queue ranks are re-read at every step, so
// each allocation moves its queue back in line.
#pragma once

#include <vector>

#include "sched/session.h"

namespace allot::sched {

class PendingWalk {
 public:
  // Walks `workloads` (each at most once).
  PendingWalk(const Session& session, const std::vector<uint32_t>& workloads);
  // The next workload, or kNone when all have been handed out.
  uint32_t Next();

 private:
  const Session& session_;
  std::vector<std::vector<uint32_t>> per_leaf_;  // sorted, per queue
  std::vector<size_t> cursor_;                   // per queue
  std::vector<int64_t> remaining_;               // per queue, whole subtree
  // While the state has not changed, queue ranks have not either: the last
  // leaf chosen stays first as long as it has work left.
  uint32_t last_leaf_ = kNone;
  uint64_t last_epoch_ = 0;
};

}  // namespace allot::sched
