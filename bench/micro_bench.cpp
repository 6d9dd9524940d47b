// Micro-benchmarks of the scheduler core's pieces (Google Benchmark):
//   build/bench/allot_microbench
// The scale benchmarks of issue 2 are `allot bench reclaim|cycle|place`.
#include <benchmark/benchmark.h>

#include "bench/clusters.h"
#include "sched/cluster_state.h"
#include "sched/fair_share.h"
#include "sched/placement/placer.h"
#include "sched/scheduler.h"
#include "sched/water_fill.h"

namespace allot::bench {
namespace {

void BM_WaterFill(benchmark::State& state) {
  std::vector<sched::WaterFillEntry> entries;
  for (uint32_t i = 0; i < static_cast<uint32_t>(state.range(0)); ++i) {
    entries.push_back({1000 + 37 * i, 1 + i % 4, i});
  }
  for (auto _ : state) benchmark::DoNotOptimize(sched::WaterFill(1'000'000, entries));
}
BENCHMARK(BM_WaterFill)->Arg(10)->Arg(100);

void BM_FairShare100Queues(benchmark::State& state) {
  core::Snapshot snap = BusyCluster(state.range(0), 1000, 1);
  sched::ClusterState cluster(snap);
  for (auto _ : state) {
    sched::ComputeDemand(cluster);
    sched::ComputeFairShare(cluster);
  }
}
BENCHMARK(BM_FairShare100Queues)->Arg(100)->Arg(1000);

void BM_PlaceOneTask(benchmark::State& state) {
  core::Snapshot snap = EmptyClusterWithTasks(state.range(0), 2, 1);
  sched::ClusterState cluster(snap);
  sched::Placer placer = sched::Placer::Default();
  sched::PlacementContext ctx;
  for (auto _ : state) benchmark::DoNotOptimize(placer.PlaceTask(cluster, ctx, nullptr));
}
BENCHMARK(BM_PlaceOneTask)->Arg(1000)->Arg(5000);

void BM_ClusterStateBuild(benchmark::State& state) {
  core::Snapshot snap = BusyCluster(state.range(0), 10'000, 1);
  for (auto _ : state) {
    sched::ClusterState cluster(snap);
    benchmark::DoNotOptimize(cluster.node_count());
  }
}
BENCHMARK(BM_ClusterStateBuild)->Arg(1000);

}  // namespace
}  // namespace allot::bench

BENCHMARK_MAIN();
