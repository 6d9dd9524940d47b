// FGD (fragmentation gradient descent, as published): the node and GPU whose
// choice grows the node's fragmentation (against the typical tasks of the
// task list) the least. The published score is
// trunc(100 x sigmoid((before - after) / 1000)), so near-equal moves tie and
// ties go to the first node in order. Fractions take the best-scoring GPU
// (lowest number on ties); whole GPUs the lowest-numbered free ones.
#include <cmath>

#include "sim/pack/fragmentation_moves.h"
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

class FgdPolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "fgd"; }

  void Prepare(const PackCluster& cluster, const std::vector<OpenbTask>& task_list) override {
    moves_.Prepare(cluster, TypicalShapes(task_list, false), sched::FragmentationRules{});
  }

  std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                   Rng&) override {
    std::optional<PackChoice> best;
    int64_t best_score = 0;
    for (uint32_t n = 0; n < cluster.size(); ++n) {
      if (!cluster.Fits(n, task)) continue;
      FragmentationMove move = moves_.BestMove(cluster, n, task, [](double growth) {
        return static_cast<double>(Quantized(growth));
      });
      int64_t score = static_cast<int64_t>(move.score);
      if (!best || score > best_score) {
        best = PackChoice{n, move.gpus};
        best_score = score;
      }
    }
    return best;
  }

  void Bound(const PackCluster& cluster, uint32_t n) override { moves_.Refresh(cluster, n); }

 private:
  // The published integer score of a move that grows fragmentation by
  // `growth` milli-GPU.
  static int64_t Quantized(double growth) {
    return static_cast<int64_t>(100.0 / (1.0 + std::exp(growth / 1000.0)));
  }

  FragmentationMoves moves_;
};

}  // namespace

std::unique_ptr<PackPolicy> MakeFgdPolicy() { return std::make_unique<FgdPolicy>(); }

}  // namespace allot::sim
