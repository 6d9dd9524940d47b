// The placement filters, one rule each (one .cpp file each).
#pragma once

#include "sched/placement/filter.h"

namespace allot::sched {

// The node is in one of the workload's node pools (the one the context
// chose, when it chose one).
class PoolFilter final : public Filter {
 public:
  const char* Name() const override { return "pool"; }
  FilterFailure Check(const ClusterState& state, const PlacementContext& ctx,
                      uint32_t n) const override;
};

// The node carries every label of the workload's node selector.
class NodeLabelsFilter final : public Filter {
 public:
  const char* Name() const override { return "node-labels"; }
  FilterFailure Check(const ClusterState& state, const PlacementContext& ctx,
                      uint32_t n) const override;
};

// The node lies in the topology domain the context requires.
class TopologyFilter final : public Filter {
 public:
  const char* Name() const override { return "topology"; }
  FilterFailure Check(const ClusterState& state, const PlacementContext& ctx,
                      uint32_t n) const override;
};

// The node has at least one GPU of an allowed model (GPU tasks only).
class GpuModelFilter final : public Filter {
 public:
  const char* Name() const override { return "gpu-model"; }
  FilterFailure Check(const ClusterState& state, const PlacementContext& ctx,
                      uint32_t n) const override;
};

// The node has the free CPU, memory and GPUs (whole or a fitting fraction)
// one task asks for.
class ResourcesFitFilter final : public Filter {
 public:
  const char* Name() const override { return "resources-fit"; }
  bool ChecksFreeCapacity() const override { return true; }
  FilterFailure Check(const ClusterState& state, const PlacementContext& ctx,
                      uint32_t n) const override;
};

// The task still fits when the GPUs reserved on the node for a starving gang
// are left alone, unless it is that gang or ends before they are needed
// (backfill).
class ReservationFilter final : public Filter {
 public:
  const char* Name() const override { return "reservation"; }
  bool ChecksFreeCapacity() const override { return true; }
  FilterFailure Check(const ClusterState& state, const PlacementContext& ctx,
                      uint32_t n) const override;
  // True when ctx may use the GPUs reserved on node n.
  static bool MayUseReserved(const ClusterState& state, const PlacementContext& ctx, uint32_t n);
};

}  // namespace allot::sched
