// The policy that orders queues for allocation (the "sorter" of Mesos'
// allocator), kept apart from the mechanism that hands out resources.
#pragma once

#include <memory>
#include <vector>

#include "sched/cluster_state.h"

namespace allot::sched {

// A queue's dominant share as a fraction num/den; den == 0 means "infinite"
// (something allocated against a fair share of zero).
struct Share {
  int64_t num = 0;
  int64_t den = 1;
};

class QueueOrder {
 public:
  virtual ~QueueOrder() = default;
  // True when sibling queue `a` should be offered resources before `b`.
  // Must be a strict weak order, and deterministic.
  virtual bool Before(const ClusterState& state, uint32_t a, uint32_t b) const = 0;
};

// Queues most below their fair share first (architecture.md §4.3): the one whose
// dominant share (the largest allocated / fair share over the resources) is
// the smallest; ties by higher priority, then by position in the snapshot.
// Shares are compared as exact fractions.
class DominantShareOrder final : public QueueOrder {
 public:
  bool Before(const ClusterState& state, uint32_t a, uint32_t b) const override;

 private:
  // Shares are recomputed only after the state changed (a bind, eviction or
  // undo): allocation passes compare far more often than they change.
  const Share& ShareOf(const ClusterState& state, uint32_t q) const;
  mutable std::vector<Share> shares_;
  mutable std::vector<bool> fresh_;
  mutable uint64_t epoch_ = UINT64_MAX;
  mutable uint64_t serial_ = 0;
};

Share DominantShare(const QueueState& queue);
// -1, 0, +1 as a < b, a == b, a > b.
int CompareShares(Share a, Share b);

}  // namespace allot::sched
