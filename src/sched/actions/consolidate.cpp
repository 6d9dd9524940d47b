#include <algorithm>

#include "sched/actions/action.h"
#include "sched/move_targets.h"
#include "sched/pending_walk.h"
#include "sched/quota_check.h"
#include "sched/victim_search.h"

namespace allot::sched {
namespace {

// Consolidation moves preemptible work that sits wholly on the node being
// cleared; it takes nothing from anyone, so quota does not enter.
class MoveRules final : public VictimRules {
 public:
  explicit MoveRules(uint32_t mover) : mover_(mover) {}

  bool MayEvict(const ClusterState& state, const VictimUnit& unit, const TakenResources& /*taken*/,
                uint32_t n) const override {
    if (!state.workload(unit.workload).preemptible) return false;
    bool all_here = true;
    unit.ForEachTask(state, [&](uint32_t t) {
      all_here = all_here && state.placement({unit.workload, t})->node == n;
    });
    return all_here;
  }

  std::string EvictionReason(const ClusterState& state, uint32_t /*victim*/) const override {
    return "moved to make room for '" + state.spec(mover_).name + "' (consolidation)";
  }
  core::EvictionKind Kind() const override { return core::EvictionKind::kConsolidate; }

 private:
  uint32_t mover_;
};

// Binds task t of ctx.workload on the choice's node after moving the
// choice's units elsewhere. False, state unchanged, when a unit cannot move.
bool MoveAndPlace(Session& session, const PlacementContext& ctx, uint32_t t,
                  const VictimChoice& choice, const MoveRules& rules, MoveTargets& targets) {
  for (const auto& unit : choice.units) {
    if (!targets.MayMove(unit, choice.node)) return false;
  }
  ClusterState& state = session.state;
  size_t mark = state.Mark();
  std::vector<int32_t> moving;  // tasks per unit, counted before they leave
  for (const auto& unit : choice.units) moving.push_back(unit.PlacedTasks(state));
  if (!VictimSearch::Apply(state, ctx, t, choice, rules)) return false;
  for (size_t i = 0; i < choice.units.size(); ++i) {
    PlacementContext moved = session.ContextFor(choice.units[i].workload);
    moved.excluded_node = choice.node;
    if (!session.gang_placer.Place(state, moved, moving[i]).empty()) {
      state.Rollback(mark);
      return false;
    }
  }
  return true;
}

}  // namespace

void ConsolidateAction::Execute(Session& session) const {
  ClusterState& state = session.state;
  session.moves_left = session.config.consolidation_max_moves;
  VictimSearch search(session.placer);
  PendingWalk walk(session, WorkloadsBelowMin(session));
  for (uint32_t w = walk.Next(); w != kNone && session.moves_left > 0; w = walk.Next()) {
    int32_t missing = session.MissingForMin(w);
    Resources add = state.workload(w).task_estimate.Times(missing);
    // Only a fragmentation problem is solved by moving work: the cluster
    // must have the GPUs free, just not together, and the quota must allow
    // them. (Cheapest checks first: most pending work fails one of them.)
    if (missing == 0 || add.gpu() == 0 || add.gpu() > state.FreeGpuMilli()) continue;
    // Moves are chosen task by task; a required topology domain is for the
    // gang placer and the victim search, which keep all tasks in one.
    if (!state.spec(w).topology.required.empty()) continue;
    if (session.failures.KnownToFail(Attempt::kConsolidate, w, state.change_count())) continue;
    if (!QuotaBlocker(state, w, add).empty()) continue;
    MoveRules rules(w);
    size_t mark = state.Mark();
    int32_t moves = 0;
    bool ok = true;
    PlacementContext ctx = session.ContextFor(w);
    ctx.excluded_models = ModelsOverQuota(state, w, add.gpu());
    for (uint32_t t : UnplacedTasks(state, w, missing)) {
      ctx.member_nodes = MemberNodes(state, w);
      bool placed = false;
      MoveTargets targets(session);  // for this task's tries, which all start from this state
      for (const auto& choice : search.Choices(state, ctx, rules)) {
        auto units = static_cast<int32_t>(choice.units.size());
        if (moves + units > session.moves_left) continue;
        if (MoveAndPlace(session, ctx, t, choice, rules, targets)) {
          moves += units;
          placed = true;
          break;
        }
      }
      if (!placed) {
        ok = false;
        break;
      }
    }
    if (ok) {
      session.moves_left -= moves;
      session.reasons[w].clear();
    } else {
      state.Rollback(mark);
      session.failures.RememberFailure(Attempt::kConsolidate, w, state.change_count());
    }
  }
}

}  // namespace allot::sched
