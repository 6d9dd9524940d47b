// A placement scorer: how good a feasible node is for a task, from 0 (worst)
// to 100 (best) under one concern. The placer adds the weighted scores and
// takes the best node; its tie-breakers (tie_breaker.h) decide between
// equal ones, and the candidate seen first keeps the place when none does.
#pragma once

#include <cstdint>

#include "sched/placement/context.h"

namespace allot::sched {

inline constexpr int64_t kMaxScore = 100;

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual const char* Name() const = 0;
  // The score of node `n`, which passed every filter, for one task of
  // ctx.workload.
  virtual int64_t Score(const ClusterState& state, const PlacementContext& ctx,
                        uint32_t n) const = 0;
};

}  // namespace allot::sched
