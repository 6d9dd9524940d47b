// A placement filter: one rule that a node must pass to take a task. The
// placer runs every filter on every candidate node (Kubernetes scheduling
// framework's Filter), cheapest first.
#pragma once

#include "sched/placement/context.h"

namespace allot::sched {

class Filter {
 public:
  virtual ~Filter() = default;
  // A short name for logs and tests.
  virtual const char* Name() const = 0;
  // kPass when node `n` can take one task of ctx.workload under this rule;
  // otherwise the reason it cannot.
  virtual FilterFailure Check(const ClusterState& state, const PlacementContext& ctx,
                              uint32_t n) const = 0;
  // True when the rule looks at free capacity, which evictions change; the
  // victim search runs only the other filters and checks capacity itself.
  virtual bool ChecksFreeCapacity() const { return false; }
};

}  // namespace allot::sched
