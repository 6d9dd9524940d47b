// Finding the least disruptive set of running work to evict so that a task
// fits (architecture.md §4.4-4.6). Reclaim, preemption and consolidation share this
// mechanism and differ only in their VictimRules.
//
// A victim unit is what is evicted together: a whole workload, or, for an
// elastic workload running above its minimum, one task above the minimum.
// On each node, units are taken lowest priority and youngest first until the
// task fits, then any unit the task turns out not to need is put back, so
// the set is minimal: never more than needed plus one unit.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sched/placement/placer.h"

namespace allot::sched {

struct VictimUnit {
  uint32_t workload = 0;
  // One task above an elastic minimum, or kNone for every placed task.
  uint32_t task = kNone;

  bool IsWhole() const { return task == kNone; }
  // Calls visit(t) for each task of the unit that is placed now.
  template <typename Visit>
  void ForEachTask(const ClusterState& state, Visit visit) const {
    if (!IsWhole()) {
      if (state.IsPlaced({workload, task})) visit(task);
      return;
    }
    auto tasks = static_cast<uint32_t>(state.spec(workload).tasks);
    for (uint32_t t = 0; t < tasks; ++t) {
      if (state.IsPlaced({workload, t})) visit(t);
    }
  }
  // How many of its tasks are placed now.
  int32_t PlacedTasks(const ClusterState& state) const {
    return IsWhole() ? state.workload(workload).placed : 1;
  }
};

// Resources already chosen for eviction in one trial, per leaf queue.
using TakenResources = std::vector<std::pair<uint32_t, Resources>>;

class VictimRules {
 public:
  virtual ~VictimRules() = default;
  // May `unit` be evicted to make room on node `n`, given that `taken` is
  // already leaving in this trial?
  virtual bool MayEvict(const ClusterState& state, const VictimUnit& unit,
                        const TakenResources& taken, uint32_t n) const = 0;
  // A cheap necessary condition: may any work of leaf queue `leaf` be
  // evicted at all? Nodes holding none of it are not searched.
  virtual bool QueueMayLose(const ClusterState& /*state*/, uint32_t /*leaf*/) const { return true; }
  // Another, per running workload of such a queue: may any of it be
  // evicted? Nodes whose evictable work all fails it are not searched.
  virtual bool WorkloadMayLose(const ClusterState& /*state*/, uint32_t /*w*/) const { return true; }
  // Why the unit is evicted, in plain words, for the plan.
  virtual std::string EvictionReason(const ClusterState& state, uint32_t victim) const = 0;
  // Which action the evictions under these rules belong to, for the plan.
  virtual core::EvictionKind Kind() const = 0;
};

// A node's free capacity, copied so that evictions can be tried on it.
struct TrialNode {
  std::vector<GpuState> gpus;
  int32_t whole_free = 0;
  int64_t cpu_free = 0;
  int64_t memory_free = 0;
};

// One node and the units to evict there for one task.
struct VictimChoice {
  uint32_t node = kNone;
  std::vector<VictimUnit> units;
  int64_t evicted_gpu_milli = 0;
};

// Running preemptible workloads in victim order (lowest priority, then
// youngest, first), made once per action. Work bound later in the action is
// missing from it and work evicted is skipped: it only decides where the
// search looks first, never what it may take.
class VictimOrder {
 public:
  explicit VictimOrder(const ClusterState& state);
  const std::vector<uint32_t>& workloads() const { return workloads_; }
  // Where the walk may start: workloads before it were evicted in this
  // action (they stay out of the fast path even if bound again).
  size_t FirstLive(const ClusterState& state) const {
    while (first_live_ < workloads_.size() && state.workload(workloads_[first_live_]).placed == 0) {
      ++first_live_;
    }
    return first_live_;
  }

 private:
  std::vector<uint32_t> workloads_;
  mutable size_t first_live_ = 0;
};

class VictimSearch {
 public:
  // With `order`, a single task looks first for one victim, in victim order,
  // that makes room alone: the least disruptive choice, usually found after
  // a few nodes. Without it, or when no single victim suffices, every node
  // is compared.
  explicit VictimSearch(const Placer& placer, const VictimOrder* order = nullptr)
      : placer_(placer), order_(order) {}

  // For one task of ctx.workload: every node where it fits after evicting a
  // minimal set of units the rules allow, least disruptive first (fewest
  // units, then fewest GPUs evicted, then closest to the gang).
  std::vector<VictimChoice> Choices(const ClusterState& state, const PlacementContext& ctx,
                                    const VictimRules& rules) const;

  // Places `count` tasks of ctx.workload, each on its least disruptive node,
  // evicting what it needs there. All or nothing: returns the units evicted
  // (state changed), or nullopt (state unchanged). A required topology
  // keeps all tasks in the one domain that needs the fewest evictions.
  std::optional<int> PlaceWithVictims(ClusterState& state, const PlacementContext& ctx,
                                      int32_t count, const VictimRules& rules) const;

  // Evicts the units of `choice` (with the rules' reason) and binds task t
  // on its node. False, with state unchanged, if it then does not fit.
  static bool Apply(ClusterState& state, const PlacementContext& ctx, uint32_t t,
                    const VictimChoice& choice, const VictimRules& rules);

 private:
  std::optional<VictimChoice> OnNode(const ClusterState& state, const PlacementContext& ctx,
                                     uint32_t n, const VictimRules& rules) const;
  std::optional<int> PlaceInDomain(ClusterState& state, const PlacementContext& ctx, int32_t count,
                                   const VictimRules& rules) const;
  // The fast path for one task: the first node, in victim order, where one
  // unit makes room. True when it placed the task.
  bool PlaceBySingleVictim(ClusterState& state, const PlacementContext& ctx, uint32_t t,
                           const VictimRules& rules, const std::vector<bool>& losing) const;
  // Per leaf queue, whether the rules let it lose anything; empty when no
  // queue may.
  static std::vector<bool> LosingQueues(const ClusterState& state, const VictimRules& rules);
  // Whether node n holds enough preemptible work of a losing queue that
  // the rules do not rule out (other than ctx.workload's own), with what is
  // free, for the task.
  bool WorthSearching(const ClusterState& state, const PlacementContext& ctx, uint32_t n,
                      const std::vector<bool>& losing, const VictimRules& rules) const;

  const Placer& placer_;
  const VictimOrder* order_;
  mutable std::vector<uint32_t> visited_;  // scratch: node stamps
  mutable uint32_t stamp_ = 0;
  // Scratch reused by OnNode(), which runs for many nodes per attempt.
  mutable TrialNode trial_;
  mutable TrialNode without_;
  mutable std::vector<VictimUnit> candidates_;
  mutable std::vector<VictimUnit> chosen_;
  mutable TakenResources taken_;
};

}  // namespace allot::sched
