// A placement tie-breaker: decides between two feasible nodes whose
// weighted scores are equal. The placer asks its tie-breakers in order;
// the first that prefers one node decides, and when none does the
// candidate seen first keeps the place. Scores say how good a node is on a
// scale; a tie-breaker only has to say which of two is better, so it can
// refuse to compare nodes it has no opinion between.
#pragma once

#include <cstdint>

#include "sched/placement/context.h"

namespace allot::sched {

class TieBreaker {
 public:
  virtual ~TieBreaker() = default;
  // A short name for logs and tests.
  virtual const char* Name() const = 0;
  // Negative when node `a` is the better place for one task of
  // ctx.workload, positive when `b` is, 0 when this rule prefers neither.
  // Both nodes passed every filter.
  virtual int Compare(const ClusterState& state, const PlacementContext& ctx, uint32_t a,
                      uint32_t b) const = 0;
};

}  // namespace allot::sched
