#include "sched/reclaim_rules.h"

#include <algorithm>
#include <vector>

#include "sched/quota_check.h"

namespace allot::sched {
namespace {

// Queues from `leaf` up to the top of the tree, leaf first.
std::vector<uint32_t> PathToTop(const ClusterState& state, uint32_t leaf) {
  std::vector<uint32_t> path;
  for (uint32_t q = leaf; q != kNone; q = state.queue(q).parent) path.push_back(q);
  return path;
}

bool InSubtree(const ClusterState& state, uint32_t q, uint32_t root) {
  for (; q != kNone; q = state.queue(q).parent) {
    if (q == root) return true;
  }
  return false;
}

}  // namespace

ReclaimRules::ReclaimRules(const ClusterState& state, uint32_t reclaimer,
                           const RuntimeExemption& exemption)
    : reclaimer_(reclaimer),
      exemption_(exemption),
      add_(state.workload(reclaimer).task_estimate),
      contested_(ContestedResources(state.spec(reclaimer).request)),
      own_path_(PathToTop(state, state.workload(reclaimer).queue)),
      sides_(state.queue_count()) {}

const ReclaimRules::Sides& ReclaimRules::SidesFor(const ClusterState& state,
                                                  uint32_t victim_leaf) const {
  Sides& sides = sides_[victim_leaf];
  if (sides.b != kNone) return sides;
  std::vector<uint32_t> victim_path = PathToTop(state, victim_leaf);
  size_t own = own_path_.size();
  size_t victim = victim_path.size();
  // Strip the common ancestors; what is left ends at A and B.
  while (own > 0 && victim > 0 && own_path_[own - 1] == victim_path[victim - 1]) {
    --own;
    --victim;
  }
  sides.a = own > 0 ? own_path_[own - 1] : kNone;
  sides.b = victim > 0 ? victim_path[victim - 1] : kNone;
  sides.own_levels = own;
  return sides;
}

bool ReclaimRules::EnoughToTake(const ClusterState& state, int64_t needed_gpu) const {
  if (contested_.front() != core::Resource::kGpu || !state.tracked_models().empty()) {
    return true;  // the per-model and CPU rules are checked node by node only
  }
  int64_t available = state.FreeGpuMilli();
  std::vector<bool> counted(state.queue_count(), false);
  uint32_t own_leaf = state.workload(reclaimer_).queue;
  for (uint32_t leaf = 0; leaf < state.queue_count(); ++leaf) {
    if (!state.queue(leaf).leaf || leaf == own_leaf) continue;
    const Sides& sides = SidesFor(state, leaf);
    if (sides.b == kNone || counted[sides.b]) continue;
    counted[sides.b] = true;
    const QueueState& qa = state.queue(sides.a);
    const QueueState& qb = state.queue(sides.b);
    int64_t floor = qb.fair_share.gpu();
    if (qa.allocated.gpu() + add_.gpu() <= qa.deserved.gpu()) {
      floor = std::min(floor, qb.deserved.gpu());
    }
    // B loses units while it is above its floor before each one, so the
    // last may take it below: all of its preemptible GPUs are the bound.
    if (qb.allocated.gpu() > floor) {
      available += qb.allocated.gpu() - qb.allocated_nonpreemptible.gpu();
    }
  }
  return available >= needed_gpu;
}

bool ReclaimRules::ReclaimerWithinFairShare(const ClusterState& state) const {
  const QueueState& leaf = state.queue(state.workload(reclaimer_).queue);
  for (core::Resource r : contested_) {
    if (leaf.allocated[r] + add_[r] > leaf.fair_share[r]) return false;
  }
  return true;
}

ReclaimRules::Amounts ReclaimRules::AmountsOn(const ClusterState& state, uint32_t n) const {
  const auto& gpus = state.node(n).gpus;
  Amounts out;
  if (contested_.front() == core::Resource::kGpu && !gpus.empty() &&
      gpus.front().tracked_model >= 0) {
    out.items[out.size++] = {core::Resource::kGpu, gpus.front().tracked_model};
    return out;
  }
  for (core::Resource r : contested_) out.items[out.size++] = {r, -1};
  return out;
}

int64_t ReclaimRules::Allocated(const QueueState& q, const Amount& a) {
  return a.model < 0 ? q.allocated[a.resource] : q.model_allocated[a.model];
}
int64_t ReclaimRules::FairShare(const QueueState& q, const Amount& a) {
  return a.model < 0 ? q.fair_share[a.resource] : q.model_fair_share[a.model];
}
int64_t ReclaimRules::Deserved(const QueueState& q, const Amount& a) {
  return a.model < 0 ? q.deserved[a.resource] : q.model_deserved[a.model];
}

bool ReclaimRules::MayEvict(const ClusterState& state, const VictimUnit& unit,
                            const TakenResources& taken, uint32_t n) const {
  if (!state.workload(unit.workload).preemptible) return false;
  uint32_t victim_leaf = state.workload(unit.workload).queue;
  if (victim_leaf == own_path_.front()) return false;
  const Sides& sides = SidesFor(state, victim_leaf);
  // Victims on this node free GPUs of its model: per-model amounts count
  // the whole unit, which is where its GPUs are in every realistic case.
  Amounts amounts = AmountsOn(state, n);
  for (size_t level = 0; level < sides.own_levels; ++level) {
    const QueueState& qs = state.queue(own_path_[level]);
    for (const Amount& m : amounts) {
      if (Allocated(qs, m) + Of(add_, m) > FairShare(qs, m)) return false;
    }
  }
  // Measured before this unit leaves, but after the units already chosen
  // in this trial: B may fall below its line by at most this one unit.
  Resources leaving;
  for (const auto& [leaf, amount] : taken) {
    if (InSubtree(state, leaf, sides.b)) leaving += amount;
  }
  const QueueState& qb = state.queue(sides.b);
  const QueueState& qa = state.queue(sides.a);
  bool b_over_fair_share = true;
  bool b_over_deserved_a_within = true;
  for (const Amount& m : amounts) {
    int64_t b_before = Allocated(qb, m) - Of(leaving, m);
    if (b_before <= FairShare(qb, m)) b_over_fair_share = false;
    if (b_before <= Deserved(qb, m) || Allocated(qa, m) + Of(add_, m) > Deserved(qa, m)) {
      b_over_deserved_a_within = false;
    }
  }
  if (!b_over_fair_share && !b_over_deserved_a_within) return false;
  return exemption_.Allows(state, unit);
}

bool ReclaimRules::QueueMayLose(const ClusterState& state, uint32_t leaf) const {
  if (leaf == own_path_.front()) return false;
  const QueueState& qb = state.queue(SidesFor(state, leaf).b);
  for (core::Resource r : contested_) {
    if (qb.allocated[r] > qb.fair_share[r] || qb.allocated[r] > qb.deserved[r]) return true;
  }
  if (contested_.front() != core::Resource::kGpu) return false;
  for (size_t m = 0; m < qb.model_allocated.size(); ++m) {
    if (qb.model_allocated[m] > qb.model_fair_share[m] ||
        qb.model_allocated[m] > qb.model_deserved[m]) {
      return true;
    }
  }
  return false;
}

std::string ReclaimRules::EvictionReason(const ClusterState& state, uint32_t victim) const {
  const auto& queues = state.snapshot().queues;
  return "reclaimed: queue '" + queues[state.workload(victim).queue].name +
         "' was over its fair share and queue '" + queues[state.workload(reclaimer_).queue].name +
         "' needs its quota for '" + state.spec(reclaimer_).name + "'";
}

}  // namespace allot::sched
