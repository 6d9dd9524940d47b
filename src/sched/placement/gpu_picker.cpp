#include "sched/placement/gpu_picker.h"

#include <algorithm>

namespace allot::sched {

bool ModelAllowed(const ClusterState& state, const PlacementContext& ctx, uint16_t model) {
  const auto& allowed = state.workload(ctx.workload).allowed_models;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), model) == allowed.end()) {
    return false;
  }
  return std::find(ctx.excluded_models.begin(), ctx.excluded_models.end(), model) ==
         ctx.excluded_models.end();
}

namespace {

// The best partial GPU for a fraction: (position, room left after), or -1.
std::pair<int32_t, int64_t> BestPartialGpu(const ClusterState& state, const PlacementContext& ctx,
                                           const std::vector<GpuState>& gpus) {
  const auto& request = state.spec(ctx.workload).request;
  int32_t best = -1;
  int64_t best_room = 0;
  for (size_t g = 0; g < gpus.size(); ++g) {
    const GpuState& gpu = gpus[g];
    if (gpu.IsFree() || !ModelAllowed(state, ctx, gpu.model)) continue;
    core::GpuShare share = core::ShareOfGpu(request, gpu.memory_total);
    int64_t room = core::kMilliPerGpu - gpu.milli_used - share.milli;
    if (room < 0 || gpu.memory_used + share.memory_mib > gpu.memory_total) continue;
    if (best < 0 || room < best_room) {
      best = static_cast<int32_t>(g);
      best_room = room;
    }
  }
  return {best, best_room};
}

}  // namespace

std::optional<std::vector<int32_t>> PickGpus(const ClusterState& state, const PlacementContext& ctx,
                                             uint32_t n, int32_t usable_free) {
  return PickGpus(state, ctx, state.node(n).gpus, usable_free);
}

std::optional<std::vector<int32_t>> PickGpus(const ClusterState& state, const PlacementContext& ctx,
                                             const std::vector<GpuState>& gpus,
                                             int32_t usable_free) {
  const auto& request = state.spec(ctx.workload).request;
  if (!request.UsesGpu()) return std::vector<int32_t>{};
  if (request.IsFraction()) {
    auto [best, room] = BestPartialGpu(state, ctx, gpus);
    if (best >= 0) return std::vector<int32_t>{best};
    if (usable_free < 1) return std::nullopt;
    for (size_t g = 0; g < gpus.size(); ++g) {
      const GpuState& gpu = gpus[g];
      if (!gpu.IsFree() || !ModelAllowed(state, ctx, gpu.model)) continue;
      core::GpuShare share = core::ShareOfGpu(request, gpu.memory_total);
      if (share.milli <= core::kMilliPerGpu && share.memory_mib <= gpu.memory_total) {
        return std::vector<int32_t>{static_cast<int32_t>(g)};
      }
    }
    return std::nullopt;
  }
  int32_t want = request.WholeGpus();
  if (want > usable_free) return std::nullopt;
  std::vector<int32_t> picked;
  for (size_t g = 0; g < gpus.size() && static_cast<int32_t>(picked.size()) < want; ++g) {
    if (gpus[g].IsFree() && ModelAllowed(state, ctx, gpus[g].model)) {
      picked.push_back(static_cast<int32_t>(g));
    }
  }
  if (static_cast<int32_t>(picked.size()) < want) return std::nullopt;
  return picked;
}

bool GpusFit(const ClusterState& state, const PlacementContext& ctx,
             const std::vector<GpuState>& gpus, int32_t usable_free) {
  const auto& request = state.spec(ctx.workload).request;
  if (!request.UsesGpu()) return true;
  if (request.IsFraction()) {
    if (BestPartialGpu(state, ctx, gpus).first >= 0) return true;
    if (usable_free < 1) return false;
    for (const GpuState& gpu : gpus) {
      if (!gpu.IsFree() || !ModelAllowed(state, ctx, gpu.model)) continue;
      core::GpuShare share = core::ShareOfGpu(request, gpu.memory_total);
      if (share.milli <= core::kMilliPerGpu && share.memory_mib <= gpu.memory_total) return true;
    }
    return false;
  }
  int32_t want = request.WholeGpus();
  if (want > usable_free) return false;
  int32_t found = 0;
  for (const GpuState& gpu : gpus) {
    if (gpu.IsFree() && ModelAllowed(state, ctx, gpu.model) && ++found == want) return true;
  }
  return false;
}

int64_t RoomLeftOnPartialGpu(const ClusterState& state, const PlacementContext& ctx, uint32_t n) {
  auto [best, room] = BestPartialGpu(state, ctx, state.node(n).gpus);
  return best < 0 ? -1 : room;
}

}  // namespace allot::sched
