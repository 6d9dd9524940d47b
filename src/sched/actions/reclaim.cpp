#include "sched/actions/action.h"
#include "sched/pending_walk.h"
#include "sched/quota_check.h"
#include "sched/reclaim_rules.h"

namespace allot::sched {

void ReclaimAction::Execute(Session& session) const {
  ClusterState& state = session.state;
  VictimOrder order(state);
  VictimSearch search(session.placer, &order);
  RuntimeExemption exemption(session.config.min_runtime);
  PendingWalk walk(session, WorkloadsBelowMin(session));
  for (uint32_t w = walk.Next(); w != kNone; w = walk.Next()) {
    int32_t missing = session.MissingForMin(w);
    if (missing == 0) continue;
    // A shape that failed since the last change fails again, for the same
    // reason (remembered as the prefix it added, possibly empty). It passed
    // the quota check below at this count of changes, so this one would too.
    uint64_t epoch = state.change_count();
    if (const std::string* prefix = session.failures.KnownToFail(Attempt::kReclaim, w, epoch)) {
      if (!prefix->empty()) session.reasons[w].insert(0, *prefix);
      continue;
    }
    Resources add = state.workload(w).task_estimate.Times(missing);
    if (!QuotaBlocker(state, w, add).empty()) continue;  // its reason stands
    exemption.Reset();
    ReclaimRules rules(state, w, exemption);
    if (!rules.ReclaimerWithinFairShare(state) && state.tracked_models().empty()) {
      const QueueState& q = state.queue(state.workload(w).queue);
      core::Resource r = ContestedResources(state.spec(w).request).front();
      std::string prefix = "queue '" + state.snapshot().queues[state.workload(w).queue].name +
                           "' is at its quota share: fair share " + core::ResourceName(r) + " " +
                           core::FormatAmount(r, q.fair_share[r]) + ", allocated " +
                           core::FormatAmount(r, q.allocated[r]) + ", so it cannot reclaim; ";
      session.reasons[w] = prefix + session.reasons[w];
      session.failures.RememberFailure(Attempt::kReclaim, w, epoch, std::move(prefix));
      continue;
    }
    if (!rules.EnoughToTake(state, add.gpu())) {
      session.failures.RememberFailure(Attempt::kReclaim, w, epoch);
      continue;
    }
    PlacementContext ctx = session.ContextFor(w);
    ctx.excluded_models = ModelsOverQuota(state, w, add.gpu());
    if (search.PlaceWithVictims(state, ctx, missing, rules)) {
      session.reasons[w].clear();
    } else {
      // A failed search rolled back: the state is as before, under a newer
      // counter.
      std::string prefix = exemption.WaitReason(state, "the work it could reclaim");
      session.reasons[w].insert(0, prefix);
      session.failures.RememberFailure(Attempt::kReclaim, w, state.change_count(),
                                       std::move(prefix));
    }
  }
}

}  // namespace allot::sched
