#include "sched/pending_walk.h"

#include <algorithm>

namespace allot::sched {

PendingWalk::PendingWalk(const Session& session, const std::vector<uint32_t>& workloads)
    : session_(session),
      per_leaf_(session.state.queue_count()),
      cursor_(session.state.queue_count(), 0),
      remaining_(session.state.queue_count(), 0) {
  const ClusterState& state = session.state;
  std::vector<bool> walked(state.workload_count(), false);
  for (uint32_t w : workloads) {
    walked[w] = true;
    for (uint32_t q = state.workload(w).queue; q != kNone; q = state.queue(q).parent) {
      ++remaining_[q];
    }
  }
  // The session's order, sorted once per cycle, filtered: no sort per walk.
  for (uint32_t w : session.WorkloadsInOrder()) {
    if (walked[w]) per_leaf_[state.workload(w).queue].push_back(w);
  }
}

uint32_t PendingWalk::Next() {
  const ClusterState& state = session_.state;
  auto pick = [&](const std::vector<uint32_t>& siblings) {
    uint32_t best = kNone;
    for (uint32_t q : siblings) {
      if (remaining_[q] == 0) continue;
      if (best == kNone || session_.queue_order.Before(state, q, best)) best = q;
    }
    return best;
  };
  uint32_t q = last_leaf_;
  if (q == kNone || last_epoch_ != state.change_count() || remaining_[q] == 0) {
    q = pick(state.top_queues());
    if (q == kNone) return kNone;
    while (!state.queue(q).leaf) q = pick(state.queue(q).children);
    last_leaf_ = q;
    last_epoch_ = state.change_count();
  }
  uint32_t w = per_leaf_[q][cursor_[q]++];
  for (uint32_t up = q; up != kNone; up = state.queue(up).parent) --remaining_[up];
  return w;
}

}  // namespace allot::sched
