// FGD (fragmentation gradient descent, as published): the node and GPU whose
// choice grows the node's fragmentation (against the typical tasks of the
// task list) the least. The published score is
// trunc(100 x sigmoid((before - after) / 1000)), so near-equal moves tie and
// ties go to the first node in order. Fractions take the best-scoring GPU
// (lowest number on ties); whole GPUs the lowest-numbered free ones.
#include "sim/pack/fragmentation_moves.h"
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

class FragmentationGradientPolicy final : public PackPolicy {
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
      FragmentationMove move = moves_.BestMove(cluster, n, task, sched::FragmentationScore);
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
  FragmentationMoves moves_;
};

}  // namespace

std::unique_ptr<PackPolicy> MakeFgdPolicy() {
  return std::make_unique<FragmentationGradientPolicy>();
}

}  // namespace allot::sim
