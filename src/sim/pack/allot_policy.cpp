// allot: the placement the scheduler core uses, in the packing experiment.
// Fragmentation gradient descent on the core's fragmentation model, with the
// growth compared exactly (the published FGD truncates it to 100 integer
// steps, so unlike moves tie) and memory counted when judging whether a
// typical task still fits.
#include "sim/pack/fragmentation_moves.h"
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

class AllotPolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "allot"; }

  void Prepare(const PackCluster& cluster, const std::vector<OpenbTask>& task_list) override {
    sched::FragmentationRules rules;
    rules.count_memory = true;
    moves_.Prepare(cluster, TypicalShapes(task_list, true), rules);
  }

  std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                   Rng&) override {
    std::optional<PackChoice> best;
    double best_score = 0;
    for (uint32_t n = 0; n < cluster.size(); ++n) {
      if (!cluster.Fits(n, task)) continue;
      FragmentationMove move =
          moves_.BestMove(cluster, n, task, [](double growth) { return -growth; });
      if (!best || move.score > best_score + 1e-9) {
        best = PackChoice{n, move.gpus};
        best_score = move.score;
      }
    }
    return best;
  }

  void Bound(const PackCluster& cluster, uint32_t n) override { moves_.Refresh(cluster, n); }

 private:
  FragmentationMoves moves_;
};

}  // namespace

std::unique_ptr<PackPolicy> MakeAllotPolicy() { return std::make_unique<AllotPolicy>(); }

}  // namespace allot::sim
