// The placement tie-breakers, one rule each (one .cpp file each).
#pragma once

#include <memory>

#include "sched/placement/scorers.h"
#include "sched/placement/tie_breaker.h"

namespace allot::sched {

// For a task of whole GPUs, between two nodes of the same GPU model, the one where the task leaves
// the node's free GPUs most usable once CPU is counted: the CPU-aware
// fragmentation measure (FragmentationRules::cpu_feeds_copies, a free GPU
// counts as usable by a typical task only while the node's free CPU can
// feed a copy of it) grows least, in whole milli-GPU. The fragmentation
// score asks only whether one copy of a typical task fits, so it cannot
// see a node's CPU drained below what its free GPUs need. Nodes of
// different models are not compared: the CPU-rich nodes of a scarce model
// would always win, and tasks that may use any model would fill the nodes
// model-bound tasks need. Fractions and CPU-only tasks get no key (the
// next rule decides): applied to them, the rule steers them onto the nodes
// whose CPU whole-GPU tasks need later (docs/simulation.md, "Variants").
class CpuFeedTieBreaker final : public TieBreaker {
 public:
  CpuFeedTieBreaker();
  const char* Name() const override { return "cpu-feed"; }
  bool Compares(const ClusterState& state, uint32_t a, uint32_t b) const override;
  // The growth in whole milli-GPU: smaller differences are rounding noise
  // of the weighted sum, and letting them reorder near-equal nodes cost up
  // to 3 points in the packing experiment (docs/simulation.md).
  std::optional<int64_t> Key(const ClusterState& state, const PlacementContext& ctx,
                             uint32_t n) const override;

 private:
  FragmentationScorer cpu_aware_;
};

// The node a scorer scores higher: a concern that should only ever break
// ties (bin-packing) rather than be weighed against the others.
class ScoreTieBreaker final : public TieBreaker {
 public:
  explicit ScoreTieBreaker(std::unique_ptr<Scorer> scorer) : scorer_(std::move(scorer)) {}
  const char* Name() const override { return scorer_->Name(); }
  bool Compares(const ClusterState&, uint32_t, uint32_t) const override { return true; }
  // The score, negated.
  std::optional<int64_t> Key(const ClusterState& state, const PlacementContext& ctx,
                             uint32_t n) const override;

 private:
  std::unique_ptr<Scorer> scorer_;
};

}  // namespace allot::sched
