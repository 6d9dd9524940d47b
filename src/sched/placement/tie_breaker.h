// A placement tie-breaker: decides between two feasible nodes whose
// weighted scores are equal. The placer asks its tie-breakers in order;
// the first that tells the two nodes apart decides, and when none does the
// candidate seen first keeps the place. A tie-breaker gives each node a
// key (lower is better) rather than comparing pairs, so the placer can keep
// the best node's keys while many candidates tie with it; and it may
// refuse to compare nodes it has no opinion between.
#pragma once

#include <cstdint>
#include <optional>

#include "sched/placement/context.h"

namespace allot::sched {

class TieBreaker {
 public:
  virtual ~TieBreaker() = default;
  // A short name for logs and tests.
  virtual const char* Name() const = 0;
  // Whether this rule compares nodes `a` and `b` at all.
  virtual bool Compares(const ClusterState& state, uint32_t a, uint32_t b) const = 0;
  // Node `n`'s key for one task of ctx.workload (lower is better), or
  // nullopt when the rule has none for it. `n` passed every filter.
  virtual std::optional<int64_t> Key(const ClusterState& state, const PlacementContext& ctx,
                                     uint32_t n) const = 0;
};

}  // namespace allot::sched
