// allot: the scheduler core's fragmentation model (sched/placement/
// fragmentation_model.h) placing one task at a time, in two steps.
//
// 1. Score each feasible move by how much it grows the node's fragmentation
//    against the typical tasks of the task list (the published measure), in
//    100 sigmoid steps, so near-equal moves tie: fragmentation gradient
//    descent, as in fgd.
// 2. For a task of whole GPUs, among the tied best moves on nodes of the
//    same GPU model, take the one that grows the CPU-aware measure least
//    (FragmentationRules::cpu_feeds_copies: a GPU counts as usable only
//    while the node has CPU to feed a copy of the typical task on it). The
//    published measure asks only whether one copy fits, so it cannot see a
//    node's CPU drained below what its free GPUs need. Ties are not moved
//    across GPU models so that scarce models stay free for tasks that ask
//    for them. Fractions and CPU-only tasks keep fgd's choice (the first
//    tied move in node order): on the variants of docs/simulation.md
//    ("Variants") the rule applied to them cost up to 4.3 points where
//    fractions or CPU-only tasks are many (90 % of the GPU request from
//    fractions; twice the CPU-only tasks), likely because it steers them
//    onto the nodes whose CPU the whole-GPU tasks need later.
//    The server's placer applies the same rule to its sampled candidates
//    (sched/placement/tie_breakers.h: CpuFeedTieBreaker).
//
// Measured on the nine openb workloads and 39 variants (seeds 42-51, median
// at 100 % arrived, docs/simulation.md): at least fgd on eight of the nine
// (multigpu40 0.01 below) and on 25 of the 39 variants; below on 14, by at
// most 0.20, where CPU runs out before GPU or CPU-only tasks are many.
// Rejected, on the variants: the rule for every task (the version before:
// 4.3 points below on two variants, 2.7 on two more); for GPU tasks only
// (fractions too: 1.6 below); guarded by the published measure's exact
// growth (3.5 below); fractions tied to the fullest node (2.5 below); the
// CPU-aware measure over GPU shapes only (as the rule here, within noise).
// Earlier, on default: the CPU-aware measure as the score (3 points behind
// on gpuspec25), as the tie-break across all nodes (1 point behind on
// gpuspec25), ties to the node with the fewest idle GPUs, exact growth with
// best-fit ties, memory counted.
#include "sim/pack/fragmentation_moves.h"
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

class AllotPolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "allot"; }

  void Prepare(const PackCluster& cluster, const std::vector<OpenbTask>& task_list) override {
    sched::ShapeMix mix = TypicalShapes(task_list, false);
    sched::FragmentationRules cpu_aware;
    cpu_aware.cpu_feeds_copies = true;
    published_.Prepare(cluster, mix, sched::FragmentationRules{});
    cpu_aware_.Prepare(cluster, std::move(mix), cpu_aware);
  }

  std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                   Rng&) override {
    std::optional<PackChoice> best;
    int64_t best_score = 0;
    bool tie_break = task.gpus > 0 && !task.IsFraction();
    bool best_cpu_known = false;  // best_cpu_growth is computed only when a tie needs it
    int64_t best_cpu_growth = 0;
    for (uint32_t n = 0; n < cluster.size(); ++n) {
      if (!cluster.Fits(n, task)) continue;
      FragmentationMove move = published_.BestMove(cluster, n, task, sched::FragmentationScore);
      int64_t score = static_cast<int64_t>(move.score);
      if (!best || score > best_score) {
        best = PackChoice{n, move.gpus};
        best_score = score;
        best_cpu_known = false;
        continue;
      }
      if (!tie_break || score < best_score ||
          cluster.node(n).model != cluster.node(best->node).model) {
        continue;
      }
      if (!best_cpu_known) {
        best_cpu_growth = CpuAwareGrowth(cluster, best->node, task, best->gpus);
        best_cpu_known = true;
      }
      int64_t cpu_growth = CpuAwareGrowth(cluster, n, task, move.gpus);
      if (cpu_growth < best_cpu_growth) {
        best = PackChoice{n, move.gpus};
        best_cpu_growth = cpu_growth;
      }
    }
    return best;
  }

  void Bound(const PackCluster& cluster, uint32_t n) override {
    published_.Refresh(cluster, n);
    cpu_aware_.Refresh(cluster, n);
  }

 private:
  // In whole milli-GPU: smaller differences are rounding noise of the
  // weighted sum, and letting them reorder near-equal nodes costs up to 3
  // points (cpu200) against keeping the first in order.
  int64_t CpuAwareGrowth(const PackCluster& cluster, uint32_t n, const OpenbTask& task,
                         const GpuList& gpus) const {
    return static_cast<int64_t>(cpu_aware_.Growth(cluster, n, task, gpus));
  }

  FragmentationMoves published_;
  FragmentationMoves cpu_aware_;
};

}  // namespace

std::unique_ptr<PackPolicy> MakeAllotPolicy() {
  return std::make_unique<AllotPolicy>();
}

}  // namespace allot::sim
