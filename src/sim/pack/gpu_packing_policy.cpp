// GpuPacking: prefer GPUs already in use, then free GPUs on a node already in
// use, then an empty node with few GPUs (the published integer scores:
// 100 - free tenths of the shared GPUs, 50 - free GPUs taken, 33 - GPUs of an
// empty node). CPU-only tasks score 0 everywhere. GPUs: tightest.
#include <algorithm>

#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

class GpuPackingPolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "gpupacking"; }
  std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                   Rng&) override {
    auto best = BestScoringNode(cluster, task, [&](uint32_t n) -> int64_t {
      return task.gpus == 0 ? 0 : Score(cluster.node(n), task);
    });
    if (!best) return std::nullopt;
    return PackChoice{*best, TightestGpus(cluster.node(*best), task)};
  }

 private:
  static int64_t Score(const PackNode& node, const OpenbTask& task) {
    int64_t whole_free = node.WholeFree();
    if (whole_free == node.gpu_count) return std::max<int64_t>(33 - whole_free, whole_free);
    // The GPUs the task would take, least free first.
    std::array<int, kMaxGpusPerNode> order{};
    for (int g = 0; g < node.gpu_count; ++g) order[g] = g;
    std::stable_sort(order.begin(), order.begin() + node.gpu_count,
                     [&](int a, int b) { return node.gpu_free[a] < node.gpu_free[b]; });
    int needed = task.gpus;
    int64_t free_tenths = 0;
    int whole_taken = 0;
    for (int i = 0; i < node.gpu_count && needed > 0; ++i) {
      int64_t free = node.gpu_free[order[i]];
      if (free < task.gpu_milli) continue;
      --needed;
      free_tenths += free * 100 / kMilliPerGpu;
      whole_taken += free == kMilliPerGpu;
    }
    if (whole_taken > 0) return std::max<int64_t>(50 - whole_taken, 33);
    return std::max<int64_t>(100 - free_tenths / 10, 50);
  }
};

}  // namespace

std::unique_ptr<PackPolicy> MakeGpuPackingPolicy() {
  return std::make_unique<GpuPackingPolicy>();
}

}  // namespace allot::sim
