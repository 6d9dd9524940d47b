// One step of a scheduling cycle (architecture.md §4). Each action is a small
// class behind this interface; the cycle runs them in the configured order
// on one shared Session.
#pragma once

#include <memory>
#include <string_view>

#include "sched/session.h"

namespace allot::sched {

class Action {
 public:
  virtual ~Action() = default;
  // The name used in SchedulerConfig::actions.
  virtual const char* Name() const = 0;
  // Changes the session's state (binds, evictions) and records reasons.
  virtual void Execute(Session& session) const = 0;
};

// The action called `name`, or null when there is none.
std::unique_ptr<Action> MakeAction(std::string_view name);

// Workloads that still need tasks to reach their gang minimum.
std::vector<uint32_t> WorkloadsBelowMin(const Session& session);

// Tries to bind `count` more tasks of workload w within quota; records the
// reason on failure. Shared by allocate and the reservation step.
bool TryAllocate(Session& session, uint32_t w, int32_t count);

class AllocateAction final : public Action {
 public:
  const char* Name() const override { return "allocate"; }
  // Starving gangs first (placed, or GPUs reserved for them), then every
  // workload's minimum in queue order, then elastic tasks above minimums.
  void Execute(Session& session) const override;
};

class ConsolidateAction final : public Action {
 public:
  const char* Name() const override { return "consolidate"; }
  // Moves a bounded number of preemptible workloads to make room for a
  // pending one, only when every moved workload is placed again.
  void Execute(Session& session) const override;
};

class ReclaimAction final : public Action {
 public:
  const char* Name() const override { return "reclaim"; }
  // Takes lent resources back from queues over their fair share (or over
  // deserved) for pending work of queues within theirs.
  void Execute(Session& session) const override;
};

class PreemptAction final : public Action {
 public:
  const char* Name() const override { return "preempt"; }
  // Inside one queue, evicts strictly lower-priority preemptible work for
  // pending higher-priority work.
  void Execute(Session& session) const override;
};

class StaleGangAction final : public Action {
 public:
  const char* Name() const override { return "stale-gang"; }
  // Evicts, whole, a running gang below its minimum past the grace period.
  void Execute(Session& session) const override;
};

}  // namespace allot::sched
