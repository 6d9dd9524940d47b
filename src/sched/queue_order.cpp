#include "sched/queue_order.h"

#include "common/int128.h"

namespace allot::sched {

using allot::Int128;

Share DominantShare(const QueueState& queue) {
  Share best{0, 1};
  for (core::Resource r : core::kAllResources) {
    int64_t allocated = queue.allocated[r];
    if (allocated <= 0) continue;
    Share s{allocated, queue.fair_share[r]};
    if (CompareShares(s, best) > 0) best = s;
  }
  return best;
}

int CompareShares(Share a, Share b) {
  if (a.den == 0 || b.den == 0) {
    if (a.den == 0 && b.den == 0) return 0;
    return a.den == 0 ? 1 : -1;
  }
  Int128 left = static_cast<Int128>(a.num) * b.den;
  Int128 right = static_cast<Int128>(b.num) * a.den;
  return left < right ? -1 : (left > right ? 1 : 0);
}

const Share& DominantShareOrder::ShareOf(const ClusterState& state, uint32_t q) const {
  if (serial_ != state.serial() || epoch_ != state.change_count()) {
    serial_ = state.serial();
    epoch_ = state.change_count();
    shares_.resize(state.queue_count());
    fresh_.assign(state.queue_count(), false);
  }
  if (!fresh_[q]) {
    shares_[q] = DominantShare(state.queue(q));
    fresh_[q] = true;
  }
  return shares_[q];
}

bool DominantShareOrder::Before(const ClusterState& state, uint32_t a, uint32_t b) const {
  const QueueState& qa = state.queue(a);
  const QueueState& qb = state.queue(b);
  int cmp = CompareShares(ShareOf(state, a), ShareOf(state, b));
  if (cmp != 0) return cmp < 0;
  if (qa.priority != qb.priority) return qa.priority > qb.priority;
  return a < b;
}

}  // namespace allot::sched
