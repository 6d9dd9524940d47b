// DotProd (Tetris-style alignment, as published): the node's free (CPU,
// total GPU) and the request, each normalised by the largest node (128
// cores, 8 GPUs); the score is 100 x (1 - dot / 2), truncated, so the node
// whose free vector aligns least with the request (the fullest) wins. GPUs:
// the tightest fit.
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

constexpr double kMaxCpuMilli = 128000;
constexpr double kMaxGpuMilli = 8000;

class DotProductPolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "dotprod"; }
  std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                   Rng&) override {
    double cpu = double(task.cpu_milli) / kMaxCpuMilli;
    double gpu = double(task.TotalGpuMilli()) / kMaxGpuMilli;
    auto best = BestScoringNode(cluster, task, [&](uint32_t n) {
      const PackNode& node = cluster.node(n);
      double dot = double(node.cpu_free) / kMaxCpuMilli * cpu +
                   double(node.IdleMilli()) / kMaxGpuMilli * gpu;
      return static_cast<int64_t>(100.0 * (1.0 - dot / 2.0));
    });
    if (!best) return std::nullopt;
    return PackChoice{*best, TightestGpus(cluster.node(*best), task)};
  }
};

}  // namespace

std::unique_ptr<PackPolicy> MakeDotProductPolicy() {
  return std::make_unique<DotProductPolicy>();
}

}  // namespace allot::sim
