// The published packing experiment (../shared/data/openb/README.md): the
// GPU nodes, a workload drawn from a task list with a seed up to 130 % of the
// cluster's GPUs, tasks placed one at a time by one policy, nothing ever
// leaving, failures never retried; the allocation ratio and fragmentation at
// each integer percent of GPU request arrived.
#pragma once

#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"
#include "sim/openb.h"

namespace allot::sim {

inline constexpr int kMaxArrivedPercent = 130;

// The workload of one seed: the list sorted by name and shuffled, then grown
// by sampling with replacement until the next task would push the GPU
// request past 130 % of `capacity_milli`, or shrunk by dropping random tasks
// until it is at most that. Drawn from Go's math/rand stream for the seed
// (sim/go_rand.h) exactly as the published simulator draws it, so a seed here
// is the paper's seed.
std::vector<OpenbTask> BuildWorkload(const std::vector<OpenbTask>& task_list,
                                     int64_t capacity_milli, uint64_t seed);

// Everything a seed decides: the workload above and then, from the same
// stream, the node order (indices into cluster.nodes, GPU nodes only; a tie
// between nodes goes to the one first here).
struct SeedDraws {
  std::vector<OpenbTask> workload;
  std::vector<uint32_t> node_order;
};
SeedDraws DrawSeed(const OpenbCluster& cluster, const std::vector<OpenbTask>& task_list,
                   uint64_t seed);

// One run: one policy, one seed.
struct PackRun {
  std::string workload;
  std::string policy;
  uint64_t seed = 0;
  // Index p: after the last task whose arrival kept the arrived GPU request
  // at or below p % of capacity.
  std::array<double, kMaxArrivedPercent + 1> alloc_pct{};  // allocated / capacity
  std::array<double, kMaxArrivedPercent + 1> frag_pct{};   // fragment / capacity
  int64_t tasks = 0;
  int64_t failed = 0;
  double place_us_per_task = 0;  // the policy's decision time per task
  double run_seconds = 0;
};

Result<PackRun> RunPack(const OpenbCluster& cluster, const std::vector<OpenbTask>& task_list,
                        const std::string& workload, const std::string& policy, uint64_t seed);

struct PackOptions {
  std::string nodes_path;
  std::vector<std::string> task_paths;
  std::vector<std::string> policies;
  std::vector<uint64_t> seeds;
  std::string out_dir;
  int threads = 0;  // 0: one per hardware thread
};

// Every (task file, policy, seed) run, in parallel; writes DIR/curve.csv,
// DIR/summary.csv, DIR/ceiling.csv (per task file and seed, the ceiling of
// sim/pack/fraction_ceiling.h) and DIR/allocation.svg, and prints the
// medians at 100 % next to the published ones and the median ceiling.
Status RunPackExperiment(const PackOptions& options, std::ostream& out);

// "42-51" or "42,43,50" -> seeds.
Result<std::vector<uint64_t>> ParseSeeds(const std::string& text);

// The published median allocation ratio (%) at 100 % arrived for a workload
// ("openb_pod_list_default") and policy, or a negative number when the
// paper has none.
double PublishedMedian(const std::string& workload, const std::string& policy);

}  // namespace allot::sim
