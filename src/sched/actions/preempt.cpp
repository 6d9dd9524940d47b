#include <algorithm>
#include <climits>

#include "sched/actions/action.h"
#include "sched/pending_walk.h"
#include "sched/quota_check.h"
#include "sched/runtime_exemption.h"
#include "sched/victim_search.h"

namespace allot::sched {
namespace {

// Inside one queue: only strictly lower-priority, preemptible victims that
// have run their minimum run time.
class PreemptRules final : public VictimRules {
 public:
  PreemptRules(uint32_t preemptor, const RuntimeExemption& exemption)
      : preemptor_(preemptor), exemption_(exemption) {}

  bool MayEvict(const ClusterState& state, const VictimUnit& unit, const TakenResources& /*taken*/,
                uint32_t /*n*/) const override {
    const auto& victim = state.spec(unit.workload);
    return victim.preemptible &&
           state.workload(unit.workload).queue == state.workload(preemptor_).queue &&
           victim.priority < state.workload(preemptor_).priority && exemption_.Allows(state, unit);
  }

  bool QueueMayLose(const ClusterState& state, uint32_t leaf) const override {
    return leaf == state.workload(preemptor_).queue;
  }

  bool WorkloadMayLose(const ClusterState& state, uint32_t w) const override {
    return state.spec(w).priority < state.workload(preemptor_).priority &&
           exemption_.Allows(state, VictimUnit{w, kNone});
  }

  std::string EvictionReason(const ClusterState& state, uint32_t /*victim*/) const override {
    return "preempted by higher-priority workload '" + state.spec(preemptor_).name +
           "' in the same queue";
  }
  core::EvictionKind Kind() const override { return core::EvictionKind::kPreempt; }

 private:
  uint32_t preemptor_;
  const RuntimeExemption& exemption_;
};

// Per leaf queue, the lowest priority of its running preemptible work
// (INT32_MAX when none): nothing in a queue can be preempted by work of that
// priority or lower.
std::vector<int32_t> LowestPreemptiblePriority(const ClusterState& state) {
  std::vector<int32_t> lowest(state.queue_count(), INT32_MAX);
  for (uint32_t w = 0; w < state.workload_count(); ++w) {
    const WorkloadState& ws = state.workload(w);
    if (ws.placed == 0 || !ws.preemptible) continue;
    int32_t& low = lowest[ws.queue];
    low = std::min(low, ws.priority);
  }
  return lowest;
}

}  // namespace

void PreemptAction::Execute(Session& session) const {
  ClusterState& state = session.state;
  VictimOrder order(state);
  VictimSearch search(session.placer, &order);
  std::vector<int32_t> lowest = LowestPreemptiblePriority(state);
  RuntimeExemption exemption(session.config.min_runtime);
  PendingWalk walk(session, WorkloadsBelowMin(session));
  for (uint32_t w = walk.Next(); w != kNone; w = walk.Next()) {
    int32_t missing = session.MissingForMin(w);
    if (missing == 0 || lowest[state.workload(w).queue] >= state.workload(w).priority) continue;
    if (const std::string* prefix =
            session.failures.KnownToFail(Attempt::kPreempt, w, state.change_count())) {
      session.reasons[w].insert(0, *prefix);
      continue;
    }
    Resources add = state.workload(w).task_estimate.Times(missing);
    if (!QuotaBlocker(state, w, add).empty()) continue;
    PlacementContext ctx = session.ContextFor(w);
    ctx.excluded_models = ModelsOverQuota(state, w, add.gpu());
    exemption.Reset();
    if (search.PlaceWithVictims(state, ctx, missing, PreemptRules(w, exemption))) {
      session.reasons[w].clear();
      if (state.workload(w).preemptible) {
        int32_t& low = lowest[state.workload(w).queue];
        low = std::min(low, state.workload(w).priority);
      }
    } else {
      std::string prefix = exemption.WaitReason(state, "the lower-priority work it could preempt");
      session.reasons[w].insert(0, prefix);
      session.failures.RememberFailure(Attempt::kPreempt, w, state.change_count(),
                                       std::move(prefix));
    }
  }
}

}  // namespace allot::sched
