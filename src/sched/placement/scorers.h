// The placement scorers, one concern each (one .cpp file each).
#pragma once

#include "sched/placement/scorer.h"

namespace allot::sched {

// Whole-GPU and CPU-only tasks bin-pack: the node left with the fewest free
// GPUs scores highest, so whole nodes stay free for big gangs.
class BinPackingScorer final : public Scorer {
 public:
  const char* Name() const override { return "bin-packing"; }
  int64_t Score(const ClusterState& state, const PlacementContext& ctx, uint32_t n) const override;
};

// Fractions go where they fragment least: onto a GPU that already holds
// fractions, the tightest fit best; failing that, a free GPU on the node with
// the fewest free GPUs.
class FragmentationScorer final : public Scorer {
 public:
  const char* Name() const override { return "fragmentation"; }
  int64_t Score(const ClusterState& state, const PlacementContext& ctx, uint32_t n) const override;
};

// Gang members stay close: on a node already holding a member best, then on
// a node sharing the most topology labels with the first member's node.
class TopologyClosenessScorer final : public Scorer {
 public:
  const char* Name() const override { return "topology-closeness"; }
  int64_t Score(const ClusterState& state, const PlacementContext& ctx, uint32_t n) const override;
};

}  // namespace allot::sched
