#include "sched/reclaim_rules.h"

#include <algorithm>

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

ReclaimRules::ReclaimRules(const ClusterState& state, uint32_t reclaimer)
    : reclaimer_(reclaimer),
      add_(state.workload(reclaimer).task_estimate),
      contested_(ContestedResources(state.spec(reclaimer).request)) {}

bool ReclaimRules::ReclaimerWithinFairShare(const ClusterState& state) const {
  const QueueState& leaf = state.queue(state.workload(reclaimer_).queue);
  for (core::Resource r : contested_) {
    if (leaf.allocated[r] + add_[r] > leaf.fair_share[r]) return false;
  }
  return true;
}

std::vector<ReclaimRules::Amount> ReclaimRules::AmountsOn(const ClusterState& state,
                                                          uint32_t n) const {
  const auto& gpus = state.node(n).gpus;
  if (contested_.front() == core::Resource::kGpu && !gpus.empty() &&
      gpus.front().tracked_model >= 0) {
    return {{core::Resource::kGpu, gpus.front().tracked_model}};
  }
  std::vector<Amount> out;
  for (core::Resource r : contested_) out.push_back({r, -1});
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
                            const Resources& usage, const TakenResources& taken, uint32_t n) const {
  if (!state.spec(unit.workload).preemptible) return false;
  uint32_t own_leaf = state.workload(reclaimer_).queue;
  uint32_t victim_leaf = state.workload(unit.workload).queue;
  if (own_leaf == victim_leaf) return false;
  std::vector<uint32_t> own_path = PathToTop(state, own_leaf);
  std::vector<uint32_t> victim_path = PathToTop(state, victim_leaf);
  // Strip the common ancestors; what is left ends at A and B.
  while (!own_path.empty() && !victim_path.empty() && own_path.back() == victim_path.back()) {
    own_path.pop_back();
    victim_path.pop_back();
  }
  uint32_t a = own_path.back();
  uint32_t b = victim_path.back();
  // Victims on this node free GPUs of its model: per-model amounts count
  // the whole unit, which is where its GPUs are in every realistic case.
  std::vector<Amount> amounts = AmountsOn(state, n);
  for (uint32_t q : own_path) {
    const QueueState& qs = state.queue(q);
    for (const Amount& m : amounts) {
      if (Allocated(qs, m) + Of(add_, m) > FairShare(qs, m)) return false;
    }
  }
  Resources leaving = usage;
  for (const auto& [leaf, amount] : taken) {
    if (InSubtree(state, leaf, b)) leaving += amount;
  }
  const QueueState& qb = state.queue(b);
  const QueueState& qa = state.queue(a);
  bool b_keeps_fair_share = true;
  bool b_keeps_deserved_a_within = true;
  for (const Amount& m : amounts) {
    int64_t b_after = Allocated(qb, m) - Of(leaving, m);
    if (b_after < FairShare(qb, m)) b_keeps_fair_share = false;
    if (b_after < Deserved(qb, m) || Allocated(qa, m) + Of(add_, m) > Deserved(qa, m)) {
      b_keeps_deserved_a_within = false;
    }
  }
  return b_keeps_fair_share || b_keeps_deserved_a_within;
}

bool ReclaimRules::QueueMayLose(const ClusterState& state, uint32_t leaf) const {
  uint32_t own_leaf = state.workload(reclaimer_).queue;
  if (leaf == own_leaf) return false;
  std::vector<uint32_t> own_path = PathToTop(state, own_leaf);
  std::vector<uint32_t> victim_path = PathToTop(state, leaf);
  while (!own_path.empty() && !victim_path.empty() && own_path.back() == victim_path.back()) {
    own_path.pop_back();
    victim_path.pop_back();
  }
  const QueueState& qb = state.queue(victim_path.back());
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
