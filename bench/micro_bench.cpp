// Micro-benchmarks of the scheduler core's pieces (Google Benchmark):
//   build/bench/allot_microbench
// The scale benchmarks of issue 2 are `allot bench reclaim|cycle|place`.
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "bench/clusters.h"
#include "common/metrics.h"
#include "core/snapshot.h"
#include "sched/cluster_state.h"
#include "sched/fair_share.h"
#include "sched/placement/placer.h"
#include "sched/scheduler.h"
#include "sched/water_fill.h"
#include "wire/resources.h"

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

// The server checks every cycle's snapshot before scheduling it
// (core::ValidateSnapshot), on the same cluster as BM_ClusterStateBuild,
// its baseline: both are one pass over every workload, done every cycle.
void BM_ValidateSnapshot(benchmark::State& state) {
  core::Snapshot snap = BusyCluster(state.range(0), 10'000, 1);
  for (auto _ : state) benchmark::DoNotOptimize(core::ValidateSnapshot(snap));
}
BENCHMARK(BM_ValidateSnapshot)->Arg(1000);

// The cost of recording one API request's latency (every request does it)
// against the decoding of a typical submission body (the work a POST
// /api/v1/workloads does anyway): the baseline.
void BM_MetricsObserveRequest(benchmark::State& state) {
  MetricsRegistry registry;
  registry.DeclareHistogram(
      "allot_api_request_duration_seconds", "latency", {"method", "route", "code"},
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  const std::vector<std::string> routes = {"/api/v1/workloads", "/api/v1/workloads/{}",
                                           "/api/v1/nodes/{}/heartbeat", "/api/v1/watch"};
  size_t i = 0;
  for (auto _ : state) {
    registry.Observe("allot_api_request_duration_seconds",
                     {"GET", routes[i++ % routes.size()], "200"}, 0.003);
  }
}
BENCHMARK(BM_MetricsObserveRequest)->Repetitions(5)->ReportAggregatesOnly(true);

void BM_DecodeSubmissionBaseline(benchmark::State& state) {
  const nlohmann::json body = {{"name", "bert-large"},
                               {"project", "vision"},
                               {"kind", "training"},
                               {"gpu", "0.5"},
                               {"cpu", "4"},
                               {"memory", "16Gi"},
                               {"command", {"python", "train.py", "--epochs", "3"}}};
  for (auto _ : state) benchmark::DoNotOptimize(wire::DecodeWorkloadSubmission(body));
}
BENCHMARK(BM_DecodeSubmissionBaseline)->Repetitions(5)->ReportAggregatesOnly(true);

}  // namespace
}  // namespace allot::bench

BENCHMARK_MAIN();
