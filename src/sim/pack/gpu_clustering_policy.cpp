// GpuClustering: tasks of the same GPU shape (a fraction, or n whole GPUs)
// gather. Bands, best first: nodes holding only that shape, nodes holding it
// among others, empty nodes, nodes holding only other shapes; within a band
// the node with less free GPU scores higher (integer steps of 25 / 8000
// milli, as published). CPU-only tasks score 0 everywhere. GPUs: tightest.
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

constexpr int64_t kMaxSpecGpuMilli = 8000;

class GpuClusteringPolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "gpuclustering"; }
  std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                   Rng&) override {
    int tag = ShapeTag(task);
    auto best = BestScoringNode(cluster, task, [&](uint32_t n) -> int64_t {
      if (tag < 0) return 0;
      const PackNode& node = cluster.node(n);
      int64_t within = 25 * (kMaxSpecGpuMilli - node.IdleMilli()) / kMaxSpecGpuMilli;
      if (node.shape_count[tag] > 0) return within + (node.distinct_shapes == 1 ? 75 : 50);
      return within + (node.distinct_shapes == 0 ? 25 : 0);
    });
    if (!best) return std::nullopt;
    return PackChoice{*best, TightestGpus(cluster.node(*best), task)};
  }
};

}  // namespace

std::unique_ptr<PackPolicy> MakeGpuClusteringPolicy() {
  return std::make_unique<GpuClusteringPolicy>();
}

}  // namespace allot::sim
