// Carrying a plan out on a snapshot the way the world would, for everything
// that runs the core without real agents: the scenario runner, the trace
// simulator and the property tests.
#pragma once

#include "core/plan.h"
#include "core/snapshot.h"

namespace allot::core {

// Evictions first, then binds (bound tasks start running now); then marks
// when each gang fell below its minimum, or clears the mark when it did not.
void ApplyPlan(const Plan& plan, Snapshot& world);

}  // namespace allot::core
