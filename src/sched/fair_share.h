// Hierarchical fair share (architecture.md §4.1). Per resource, level by level from
// the root: every queue first gets min(deserved, demand, limit); what is left
// goes to higher-priority queues first and, within one priority, is split by
// over-quota weight, never past a queue's demand or limit. The same is done
// per GPU model for models some queue declares quota for.
#pragma once

#include "sched/cluster_state.h"

namespace allot::sched {

// Computes every queue's demand (its subtree's requests, running and
// pending, capped by limits) into QueueState::demand.
void ComputeDemand(ClusterState& state);

// Computes QueueState::fair_share and model_fair_share for every queue from
// the demand, deserved, limit, weight and priority. Deterministic.
void ComputeFairShare(ClusterState& state);

}  // namespace allot::sched
