// The placement scorers, one concern each (one .cpp file each).
#pragma once

#include <optional>
#include <vector>

#include "sched/placement/fragmentation_memo.h"
#include "sched/placement/scorer.h"

namespace allot::sched {

// Whole-GPU and CPU-only tasks bin-pack: the node left with the fewest free
// GPUs scores highest, so whole nodes stay free for big gangs.
class BinPackingScorer final : public Scorer {
 public:
  const char* Name() const override { return "bin-packing"; }
  int64_t Score(const ClusterState& state, const PlacementContext& ctx, uint32_t n) const override;
};

// GPU tasks go where they grow the node's fragmentation least
// (fragmentation_model.h: fragmentation gradient descent), measured against
// the cycle's own typical tasks: the task shapes of all its workloads,
// weighted by their task counts, the most frequent covering 95 %.
class FragmentationScorer final : public Scorer {
 public:
  FragmentationScorer() = default;
  // Measures under `rules` instead of the published ones.
  explicit FragmentationScorer(FragmentationRules rules) : rules_(rules) {}
  const char* Name() const override { return "fragmentation"; }
  // 0 for tasks without GPUs: wherever they go, the GPUs stay free.
  int64_t Score(const ClusterState& state, const PlacementContext& ctx, uint32_t n) const override;
  // How much one task of ctx.workload on node `n` grows the node's
  // fragmentation (milli-GPU; negative when it shrinks), or nullopt when the
  // task's GPUs do not fit there.
  std::optional<double> Growth(const ClusterState& state, const PlacementContext& ctx,
                               uint32_t n) const;

 private:
  // The typical tasks and their memo, made again for every ClusterState
  // (a cycle's workloads do not change within it).
  FragmentationMemo& MemoFor(const ClusterState& state) const;

  FragmentationRules rules_;
  mutable uint64_t memo_serial_ = 0;
  mutable FragmentationMemo memo_;
  mutable std::vector<int64_t> free_scratch_;  // the node's free milli per GPU
};

// Gang members stay close: on a node already holding a member best, then on
// a node sharing the most topology labels with the first member's node.
class TopologyClosenessScorer final : public Scorer {
 public:
  const char* Name() const override { return "topology-closeness"; }
  int64_t Score(const ClusterState& state, const PlacementContext& ctx, uint32_t n) const override;
};

}  // namespace allot::sched
