// The minimum run time (SchedulerConfig::min_runtime): preemptible work that
// has run less than it is exempt from reclaim and from preemption inside its
// queue, as Slurm's PreemptExemptTime. Without it, work that just started
// on borrowed GPUs is often evicted again within minutes, and every restart
// costs its start-up and the progress since its last checkpoint.
//
// Victim rules ask Allows() after their own checks (per unit in MayEvict;
// per workload, once its queue may lose, before a node is searched), so
// that what it turns away is work the rules would otherwise consider; the
// action then tells the waiting workload why it waits and for how long.
#pragma once

#include <cstdint>
#include <string>

#include "core/time.h"
#include "sched/victim_search.h"

namespace allot::sched {

class RuntimeExemption {
 public:
  // 0 exempts nothing.
  explicit RuntimeExemption(core::Duration min_runtime) : min_runtime_(min_runtime) {}

  // Whether `unit` has run at least the minimum: since its earliest placed
  // task started. Remembers the units it turns away.
  bool Allows(const ClusterState& state, const VictimUnit& unit) const;

  // Whether Allows() has turned any unit away since the last Reset().
  bool TurnedAway() const { return earliest_release_ != core::kNever; }
  // The reason a workload that found no victim gives for it, when Allows()
  // turned some away: `what` ("the work it could reclaim") has run less than
  // the minimum, and how long until the first of it may be taken. Empty
  // when none was turned away.
  std::string WaitReason(const ClusterState& state, const std::string& what) const;
  // Forgets the units turned away (before the next workload's search).
  void Reset() const { earliest_release_ = core::kNever; }

 private:
  core::Duration min_runtime_;
  mutable core::Time earliest_release_ = core::kNever;
};

}  // namespace allot::sched
