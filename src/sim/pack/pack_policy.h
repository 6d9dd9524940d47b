// A placement policy of the packing experiment: given the cluster and one
// task, the node and GPUs the task takes. The published policies score every
// feasible node and take the best, ties going to the node first in the
// seed's order; Random picks uniformly. Each policy is one file.
#pragma once

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/result.h"
#include "sim/pack/pack_cluster.h"

namespace allot::sim {

using Rng = std::mt19937_64;

struct PackChoice {
  uint32_t node = 0;
  GpuList gpus;
};

class PackPolicy {
 public:
  virtual ~PackPolicy() = default;
  virtual const char* Name() const = 0;
  // Called once before the run with the cluster and the task list the
  // workload is drawn from (policies that learn typical tasks use it).
  virtual void Prepare(const PackCluster& cluster, const std::vector<OpenbTask>& task_list) {
    (void)cluster;
    (void)task_list;
  }
  // Called once before the run with the run's arrivals in order (a policy
  // that schedules them as one batch, as the live core does, uses it).
  virtual void PrepareRun(const PackCluster& cluster, const std::vector<OpenbTask>& workload) {
    (void)cluster;
    (void)workload;
  }
  // Where the task goes, or nullopt when no node fits.
  virtual std::optional<PackChoice> Choose(const PackCluster& cluster, const OpenbTask& task,
                                           Rng& rng) = 0;
  // Called after the task chosen last was bound on node n.
  virtual void Bound(const PackCluster& cluster, uint32_t n) {
    (void)cluster;
    (void)n;
  }
};

// The policy names in the order of the published table, then allot and live.
const std::vector<std::string>& PackPolicyNames();
// A new policy by name; an unknown name is an error listing the valid ones.
Result<std::unique_ptr<PackPolicy>> MakePackPolicy(const std::string& name);

// The feasible node with the highest score(n), the first in order on ties,
// or nullopt when none is feasible.
template <typename ScoreFn>
std::optional<uint32_t> BestScoringNode(const PackCluster& cluster, const OpenbTask& task,
                                        ScoreFn score) {
  std::optional<uint32_t> best;
  decltype(score(uint32_t{0})) best_score{};
  for (uint32_t n = 0; n < cluster.size(); ++n) {
    if (!cluster.Fits(n, task)) continue;
    auto s = score(n);
    if (!best || s > best_score) {
      best = n;
      best_score = s;
    }
  }
  return best;
}

// The typical task shapes of a task list, counted the published way (by CPU,
// GPU milli, GPU count and GPU model list) and cut at 95 % of tasks.
sched::ShapeMix TypicalShapes(const std::vector<OpenbTask>& tasks, bool with_memory);

// One class per policy (each defined in its own file).
std::unique_ptr<PackPolicy> MakeRandomPolicy();
std::unique_ptr<PackPolicy> MakeDotProductPolicy();
std::unique_ptr<PackPolicy> MakeGpuClusteringPolicy();
std::unique_ptr<PackPolicy> MakeGpuPackingPolicy();
std::unique_ptr<PackPolicy> MakeBestFitPolicy();
std::unique_ptr<PackPolicy> MakeFgdPolicy();
std::unique_ptr<PackPolicy> MakeAllotPolicy();
std::unique_ptr<PackPolicy> MakeLivePolicy();

}  // namespace allot::sim
