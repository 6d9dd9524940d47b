// BestFit: least left over. Score 100 x (1 - sum over CPU and GPU of
// 0.5 x (free - request) / max), max = 128 cores and 8 GPUs, truncated.
// GPUs: the tightest fit.
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

constexpr double kMaxCpuMilli = 128000;
constexpr double kMaxGpuMilli = 8000;

class BestFitPolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "bestfit"; }
  std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                   Rng&) override {
    auto best = BestScoringNode(cluster, task, [&](uint32_t n) {
      const PackNode& node = cluster.node(n);
      double left = 0.5 * double(node.cpu_free - task.cpu_milli) / kMaxCpuMilli +
                    0.5 * double(node.IdleMilli() - task.TotalGpuMilli()) / kMaxGpuMilli;
      return static_cast<int64_t>((1.0 - left) * 100.0);
    });
    if (!best) return std::nullopt;
    return PackChoice{*best, TightestGpus(cluster.node(*best), task)};
  }
};

}  // namespace

std::unique_ptr<PackPolicy> MakeBestFitPolicy() {
  return std::make_unique<BestFitPolicy>();
}

}  // namespace allot::sim
