#include "sched/scheduler.h"

#include "sched/fair_share.h"
#include "sched/session.h"

namespace allot::sched {

Scheduler::Scheduler(SchedulerConfig config)
    : config_(std::move(config)), placer_(Placer::Default()) {}

Result<std::unique_ptr<Scheduler>> Scheduler::Create(SchedulerConfig config) {
  std::unique_ptr<Scheduler> scheduler(new Scheduler(std::move(config)));
  for (const auto& name : scheduler->config_.actions) {
    auto action = MakeAction(name);
    if (!action) {
      std::string known;
      for (const auto& k : KnownActions()) known += (known.empty() ? "" : ", ") + k;
      return Error{"unknown action '" + name + "': use any of " + known, "actions"};
    }
    scheduler->actions_.push_back(std::move(action));
  }
  const auto& c = scheduler->config_;
  if (c.stale_gang_grace < 0) {
    return Error{"stale_gang_grace is negative: use 0s or more", "stale_gang_grace"};
  }
  if (c.reservation_after < 0) {
    return Error{"reservation_after is negative: use 0s or more", "reservation_after"};
  }
  if (c.max_reservations < 0) {
    return Error{"max_reservations is negative: use 0 or more", "max_reservations"};
  }
  if (c.min_runtime < 0) {
    return Error{"min_runtime is negative: use 0s or more", "min_runtime"};
  }
  if (c.consolidation_max_moves < 0) {
    return Error{"consolidation_max_moves is negative: use 0 or more", "consolidation_max_moves"};
  }
  return scheduler;
}

core::Plan Scheduler::Cycle(const core::Snapshot& snapshot) const {
  Session session(snapshot, config_, placer_, queue_order_, workload_order_);
  ComputeDemand(session.state);
  ComputeFairShare(session.state);
  for (const auto& action : actions_) action->Execute(session);

  core::Plan plan;
  session.state.DiffInto(plan);
  const ClusterState& state = session.state;
  plan.pending_reasons.resize(state.workload_count());
  for (uint32_t w = 0; w < state.workload_count(); ++w) {
    const auto& spec = state.spec(w);
    int32_t placed = state.workload(w).placed;
    if (placed >= spec.tasks) continue;
    std::string& reason = session.reasons[w];
    if (reason.empty()) {
      reason = placed >= spec.min_tasks
                   ? "elastic: " + std::to_string(placed) + " of " + std::to_string(spec.tasks) +
                         " tasks run; the rest wait for free resources"
                   : "waiting for resources freed by evictions in this cycle";
    }
    plan.pending_reasons[w] = std::move(reason);
  }
  for (const auto& r : session.reservations) {
    std::string when =
        r.needed_at == core::kNever
            ? "when running work without a declared runtime ends"
            : "in about " + std::to_string((r.needed_at - state.now()) / 60000) + " min";
    plan.pending_reasons[r.workload] =
        "gang waits for GPUs reserved for it on " + std::to_string(r.node_gpus.size()) +
        (r.node_gpus.size() == 1 ? " node" : " nodes") + " as running work ends (expected " + when +
        "); " + plan.pending_reasons[r.workload];
  }
  plan.fair_share.resize(state.queue_count());
  plan.fair_share_by_model.resize(state.queue_count());
  for (uint32_t q = 0; q < state.queue_count(); ++q) {
    plan.fair_share[q] = state.queue(q).fair_share;
    for (size_t m = 0; m < state.tracked_models().size(); ++m) {
      plan.fair_share_by_model[q].emplace_back(state.tracked_models()[m],
                                               state.queue(q).model_fair_share[m]);
    }
  }
  plan.reservations = std::move(session.reservations);
  return plan;
}

}  // namespace allot::sched
