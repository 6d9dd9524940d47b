// Placement of one task: candidate nodes come from the free-GPU index in the
// order most likely to score well (fewest free GPUs that fit first), every
// filter runs on each candidate, and the scorers rank the first few feasible
// ones and enough of every GPU model that each model gets a fair look. A
// pipeline in the manner of the Kubernetes scheduling framework.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sched/placement/filter.h"
#include "sched/placement/scorer.h"
#include "sched/placement/tie_breaker.h"

namespace allot::sched {

// How many nodes failed each filter, for the pending reason.
struct PlacementFailure {
  std::array<int64_t, static_cast<size_t>(FilterFailure::kCount)> nodes{};
  // "no node with enough free resources: 3 nodes lack free GPUs, ..."
  std::string Describe(const ClusterState& state, uint32_t workload) const;
};

class Placer {
 public:
  struct WeightedScorer {
    std::unique_ptr<Scorer> scorer;
    int64_t weight = 1;
  };
  // How many feasible nodes are scored before the best is taken. Candidates
  // arrive best-first by free GPUs, so a small number loses little.
  static constexpr int kScoredCandidates = 16;
  // Then every GPU model the task may use gets at least this many feasible
  // nodes scored (those among the first candidates count), visiting at most
  // kVisitedPerModel more of it: the first candidates are mostly of a few
  // models (the ones with small nodes come first by free GPUs), and without
  // a fair look at the others a task that may use any model fills the nodes
  // of a model other tasks require (measured with the packing experiment's
  // `live` policy, docs/simulation.md).
  static constexpr int kScoredPerModel = 16;
  static constexpr int kVisitedPerModel = 32;

  Placer(std::vector<std::unique_ptr<Filter>> filters, std::vector<WeightedScorer> scorers,
         std::vector<std::unique_ptr<TieBreaker>> tie_breakers = {});
  // The standard pipeline: pools, node labels, topology, GPU model, resources,
  // reservation; fragmentation and topology closeness weighed; ties to the
  // node whose free CPU still feeds its free GPUs best, then bin-packing.
  static Placer Default();

  // The best placement for one task of ctx.workload, or nullopt with the
  // reasons in *failure (which may be null).
  std::optional<Placement> PlaceTask(const ClusterState& state, const PlacementContext& ctx,
                                     PlacementFailure* failure) const;

  // The first filter node `n` fails, or kPass. With `static_only`, only the
  // filters that do not look at free capacity run.
  FilterFailure Check(const ClusterState& state, const PlacementContext& ctx, uint32_t n,
                      bool static_only) const;

  // The GPUs a task takes on a node that passed every filter.
  static std::optional<std::vector<int32_t>> GpusOn(const ClusterState& state,
                                                    const PlacementContext& ctx, uint32_t n);

 private:
  int64_t ScoreOf(const ClusterState& state, const PlacementContext& ctx, uint32_t n) const;
  // True when node `n` with `score` should replace `best`: a higher score,
  // or an equal one that a tie-breaker prefers.
  bool Prefer(const ClusterState& state, const PlacementContext& ctx, uint32_t n, int64_t score,
              uint32_t best, int64_t best_score) const;
  // Tops every model up to kScoredPerModel scored nodes; one of them takes
  // the place of `best` only when preferred (Prefer()).
  void ScoreEveryModel(const ClusterState& state, const PlacementContext& ctx, uint32_t& best,
                       int64_t& best_score) const;
  // Calls visit(n) for candidate nodes in preferred order until it returns
  // false. Nodes that cannot hold the task's GPUs are never visited.
  void ForEachCandidate(const ClusterState& state, const PlacementContext& ctx,
                        const std::function<bool(uint32_t)>& visit) const;

  std::vector<std::unique_ptr<Filter>> filters_;
  std::vector<WeightedScorer> scorers_;
  std::vector<std::unique_ptr<TieBreaker>> tie_breakers_;
  // Scratch: the best node's tie-breaker keys, each computed when a tie
  // first needs it (many candidates tie with the same best node).
  struct CachedKey {
    bool known = false;
    std::optional<int64_t> key;
  };
  mutable uint32_t keys_of_ = kNone;
  mutable std::vector<CachedKey> best_keys_;
  mutable std::vector<uint32_t> seen_;  // scratch: candidate de-duplication
  mutable uint32_t stamp_ = 0;
  mutable std::vector<int> scored_in_group_;  // scratch: feasible nodes scored per node group
};

}  // namespace allot::sched
