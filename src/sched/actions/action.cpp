#include "sched/actions/action.h"

#include "sched/config.h"
#include "sched/placement/filters.h"
#include "sched/quota_check.h"

namespace allot::sched {

const std::vector<std::string>& KnownActions() {
  static const std::vector<std::string> kNames = {"allocate", "consolidate", "reclaim", "preempt",
                                                  "stale-gang"};
  return kNames;
}

std::unique_ptr<Action> MakeAction(std::string_view name) {
  if (name == "allocate") return std::make_unique<AllocateAction>();
  if (name == "consolidate") return std::make_unique<ConsolidateAction>();
  if (name == "reclaim") return std::make_unique<ReclaimAction>();
  if (name == "preempt") return std::make_unique<PreemptAction>();
  if (name == "stale-gang") return std::make_unique<StaleGangAction>();
  return nullptr;
}

std::vector<uint32_t> WorkloadsBelowMin(const Session& session) {
  std::vector<uint32_t> out;
  for (uint32_t w = 0; w < session.state.workload_count(); ++w) {
    if (session.MissingForMin(w) > 0) out.push_back(w);
  }
  return out;
}

namespace {

// Places `count` tasks in the first of the workload's pools where they fit
// (any pool when it lists one or none); the reason names every pool tried.
std::string PlaceInPreferredPool(Session& session, PlacementContext& ctx, int32_t count) {
  const auto& pools = session.state.spec(ctx.workload).pools;
  if (pools.size() <= 1) return session.gang_placer.Place(session.state, ctx, count);
  std::string reasons;
  for (size_t k = 0; k < pools.size(); ++k) {
    ctx.pool_choice = static_cast<int32_t>(k);
    std::string why = session.gang_placer.Place(session.state, ctx, count);
    if (why.empty()) return why;
    reasons += (k == 0 ? "" : "; ") + std::string("pool '") + pools[k] + "': " + why;
  }
  ctx.pool_choice = -1;
  return "tried the pools in order: " + reasons;
}

}  // namespace

bool TryAllocate(Session& session, uint32_t w, int32_t count) {
  ClusterState& state = session.state;
  // Binds only take capacity away: a shape that did not fit still does not
  // until something is released.
  if (const std::string* reason =
          session.failures.KnownToFail(Attempt::kAllocate, w, state.release_count())) {
    session.reasons[w] = *reason;
    return false;
  }
  Resources add = state.workload(w).task_estimate.Times(count);
  std::string blocker = QuotaBlocker(state, w, add);
  if (!blocker.empty()) {
    session.reasons[w] = blocker;
    return false;
  }
  PlacementContext ctx = session.ContextFor(w);
  ctx.excluded_models = ModelsOverQuota(state, w, add.gpu());
  std::string why = PlaceInPreferredPool(session, ctx, count);
  if (!why.empty() && !ctx.excluded_models.empty()) {
    why = ModelQuotaReason(state, w, add.gpu()) + "; " + why;
  }
  session.reasons[w] = why;
  if (!why.empty())
    session.failures.RememberFailure(Attempt::kAllocate, w, state.release_count(), why);
  return why.empty();
}

}  // namespace allot::sched
