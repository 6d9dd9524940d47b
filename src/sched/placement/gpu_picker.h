// Which GPUs of a node a task takes. Fractions are placed
// fragmentation-aware: on the GPU that already holds fractions and has the
// least room left that still fits (best fit), so that whole GPUs stay free;
// only when none fits on a free GPU. Whole-GPU tasks take the lowest free
// positions.
#pragma once

#include <optional>
#include <vector>

#include "sched/placement/context.h"

namespace allot::sched {

// True when the workload (and the context) allow a GPU of this model.
bool ModelAllowed(const ClusterState& state, const PlacementContext& ctx, uint16_t model);

// The GPUs one task of ctx.workload would take among `gpus` (a node's GPUs,
// or a copy with some tasks taken away), using at most `usable_free` of the
// entirely free ones; nullopt if it does not fit.
std::optional<std::vector<int32_t>> PickGpus(const ClusterState& state, const PlacementContext& ctx,
                                             const std::vector<GpuState>& gpus,
                                             int32_t usable_free);
// Whether PickGpus() would succeed, without building the list: for the
// filters and the victim search, which only need the answer.
bool GpusFit(const ClusterState& state, const PlacementContext& ctx,
             const std::vector<GpuState>& gpus, int32_t usable_free);
// The same on node `n` as it is now.
std::optional<std::vector<int32_t>> PickGpus(const ClusterState& state, const PlacementContext& ctx,
                                             uint32_t n, int32_t usable_free);

// The room (in milli-GPU) left on the GPU a fraction would take, or -1 when
// the fraction would take an entirely free GPU or does not fit.
int64_t RoomLeftOnPartialGpu(const ClusterState& state, const PlacementContext& ctx, uint32_t n);

}  // namespace allot::sched
