#include "bench/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include <nlohmann/json.hpp>

#include "bench/clusters.h"
#include "sched/scheduler.h"

namespace allot::bench {
namespace {

double PeakRssMib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

struct Timing {
  double median_ms = 0;
  double p95_ms = 0;
  core::Plan plan;  // of the last run
};

Timing TimeCycles(const core::Snapshot& snap, int32_t repeat,
                  const sched::SchedulerConfig& config = {}) {
  auto scheduler = sched::Scheduler::Create(config);
  std::vector<double> ms;
  Timing timing;
  for (int32_t i = 0; i < repeat; ++i) {
    auto start = std::chrono::steady_clock::now();
    timing.plan = (*scheduler)->Cycle(snap);
    auto end = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  timing.median_ms = ms[ms.size() / 2];
  timing.p95_ms = ms[std::min(ms.size() - 1, (ms.size() * 95 + 99) / 100 - 1)];
  return timing;
}

// The baseline, timed in the same run on the same snapshot: a cycle with
// the allocate action only, the floor every cycle pays (reading the
// snapshot, fair share, one placement attempt per pending workload).
double BaselineMs(const core::Snapshot& snap, int32_t repeat) {
  sched::SchedulerConfig allocate_only;
  allocate_only.actions = {"allocate"};
  return TimeCycles(snap, repeat, allocate_only).median_ms;
}

nlohmann::json Line(const std::string& name, int64_t nodes, const Timing& t, double baseline_ms) {
  return {{"name", name},
          {"nodes", nodes},
          {"median_ms", t.median_ms},
          {"p95_ms", t.p95_ms},
          {"baseline_ms", baseline_ms},
          {"ratio_to_baseline", t.median_ms / baseline_ms},
          {"peak_rss_mib", PeakRssMib()},
          {"binds", t.plan.binds.size()},
          {"evictions", t.plan.evictions.size()}};
}

Status Reclaim(const BenchOptions& o, int64_t nodes, std::ostream& out) {
  core::Snapshot snap = ReclaimCluster(nodes);
  if (auto st = core::ValidateSnapshot(snap); !st) return st;
  Timing t = TimeCycles(snap, o.repeat);
  int64_t gang_tasks = std::max<int64_t>(1, nodes / 10);
  if (static_cast<int64_t>(t.plan.binds.size()) != gang_tasks ||
      static_cast<int64_t>(t.plan.evictions.size()) != gang_tasks * 8) {
    return Error{"reclaim at " + std::to_string(nodes) + " nodes bound " +
                 std::to_string(t.plan.binds.size()) + " and evicted " +
                 std::to_string(t.plan.evictions.size()) + ": expected " +
                 std::to_string(gang_tasks) + " and " + std::to_string(gang_tasks * 8)};
  }
  nlohmann::json line = Line("reclaim", nodes, t, BaselineMs(snap, o.repeat));
  line["gang_tasks"] = gang_tasks;
  out << line.dump() << std::endl;
  return Status::Ok();
}

Status Cycle(const BenchOptions& o, int64_t nodes, std::ostream& out) {
  core::Snapshot snap = BusyCluster(nodes, o.pending, o.seed);
  if (auto st = core::ValidateSnapshot(snap); !st) return st;
  Timing t = TimeCycles(snap, o.repeat);
  nlohmann::json line = Line("cycle", nodes, t, BaselineMs(snap, o.repeat));
  line["pending"] = o.pending;
  line["workloads"] = snap.workloads.size();
  out << line.dump() << std::endl;
  return Status::Ok();
}

Status Place(const BenchOptions& o, int64_t nodes, std::ostream& out) {
  core::Snapshot snap = EmptyClusterWithTasks(nodes, o.tasks, o.seed);
  if (auto st = core::ValidateSnapshot(snap); !st) return st;
  Timing t = TimeCycles(snap, o.repeat);
  if (static_cast<int64_t>(t.plan.binds.size()) != o.tasks) {
    return Error{"place at " + std::to_string(nodes) + " nodes bound " +
                 std::to_string(t.plan.binds.size()) + " of " + std::to_string(o.tasks) +
                 " tasks: give more nodes or fewer tasks"};
  }
  nlohmann::json line = Line("place", nodes, t, BaselineMs(snap, o.repeat));
  line["tasks"] = o.tasks;
  line["tasks_per_s"] = static_cast<double>(o.tasks) / (t.median_ms / 1000.0);
  out << line.dump() << std::endl;
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& BenchNames() {
  static const std::vector<std::string> kNames = {"reclaim", "cycle", "place"};
  return kNames;
}

Status RunBench(const BenchOptions& options, std::ostream& out) {
  std::function<Status(const BenchOptions&, int64_t, std::ostream&)> run;
  if (options.name == "reclaim") run = Reclaim;
  if (options.name == "cycle") run = Cycle;
  if (options.name == "place") run = Place;
  if (!run) {
    return Error{"unknown benchmark '" + options.name + "': use reclaim, cycle or place", "name"};
  }
  if (options.repeat < 1) return Error{"--repeat must be at least 1", "repeat"};
  for (int64_t nodes : options.nodes) {
    if (nodes < 1) return Error{"--nodes must be at least 1", "nodes"};
    if (auto st = run(options, nodes, out); !st) return st;
  }
  return Status::Ok();
}

}  // namespace allot::bench
