#include "sched/pending_walk.h"

#include <algorithm>

namespace allot::sched {

PendingWalk::PendingWalk(const Session& session, const std::vector<uint32_t>& workloads)
    : session_(session),
      per_leaf_(session.state.queue_count()),
      cursor_(session.state.queue_count(), 0),
      remaining_(session.state.queue_count(), 0) {
  const ClusterState& state = session.state;
  for (uint32_t w : workloads) {
    uint32_t leaf = state.workload(w).queue;
    per_leaf_[leaf].push_back(w);
    for (uint32_t q = leaf; q != kNone; q = state.queue(q).parent) ++remaining_[q];
  }
  for (auto& list : per_leaf_) {
    std::sort(list.begin(), list.end(),
              [&](uint32_t a, uint32_t b) { return session.workload_order.Before(state, a, b); });
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
