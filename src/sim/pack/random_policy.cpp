// Random: a uniformly random feasible node, a random GPU that fits on it.
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

class RandomPolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "random"; }
  std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                   Rng& rng) override {
    feasible_.clear();
    for (uint32_t n = 0; n < cluster.size(); ++n) {
      if (cluster.Fits(n, task)) feasible_.push_back(n);
    }
    if (feasible_.empty()) return std::nullopt;
    PackChoice choice;
    choice.node = feasible_[std::uniform_int_distribution<size_t>(0, feasible_.size() - 1)(rng)];
    const PackNode& node = cluster.node(choice.node);
    if (!task.IsFraction()) {
      choice.gpus = LowestFreeGpus(node, task);
      return choice;
    }
    int fitting = 0;
    int picked = -1;
    for (int g = 0; g < node.gpu_count; ++g) {
      if (node.gpu_free[g] < task.gpu_milli) continue;
      ++fitting;  // reservoir sampling: each fitting GPU equally likely
      if (std::uniform_int_distribution<int>(0, fitting - 1)(rng) == 0) picked = g;
    }
    choice.gpus.Add(picked);
    return choice;
  }

 private:
  std::vector<uint32_t> feasible_;
};

}  // namespace

std::unique_ptr<PackPolicy> MakeRandomPolicy() {
  return std::make_unique<RandomPolicy>();
}

}  // namespace allot::sim
