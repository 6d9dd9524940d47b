#include "bench/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <functional>

#include <nlohmann/json.hpp>

#include "bench/clusters.h"
#include "core/apply_plan.h"
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

// What one benchmark is: its cluster, a check that the plan did the work,
// and the fields its line adds.
struct Case {
  core::Snapshot snapshot;
  std::function<Status(const core::Plan&)> check;
  nlohmann::json extra;
  bool steady = false;  // also time a steady cycle (SteadySnapshot)
};

// The cluster one cycle later, as the server's loop would see it: the plan
// carried out, a minute gone by, and small changes: `changes` running
// workloads finished and as many new ones pending (copies of pending
// shapes under new names). What a cycle costs there is what the server
// pays cycle after cycle.
core::Snapshot SteadySnapshot(core::Snapshot snap, const core::Plan& plan, int64_t changes) {
  core::ApplyPlan(plan, snap);
  snap.now += 60'000;
  std::vector<core::Workload> kept;
  std::vector<core::Workload> arrivals;
  int64_t finished = 0;
  for (auto& w : snap.workloads) {
    bool running = w.PlacedTasks() == w.spec.tasks;
    if (running && finished < changes) {
      ++finished;
      continue;
    }
    if (w.PlacedTasks() == 0 && static_cast<int64_t>(arrivals.size()) < changes) {
      core::Workload copy = w;
      copy.spec.name += "-again";
      copy.spec.submitted_at = snap.now;
      arrivals.push_back(std::move(copy));
    }
    kept.push_back(std::move(w));
  }
  for (auto& w : arrivals) kept.push_back(std::move(w));
  snap.workloads = std::move(kept);
  return snap;
}

// Validates, times, checks and prints one configuration.
Status Run(const std::string& name, int64_t nodes, Case c, int32_t repeat, std::ostream& out) {
  if (auto st = core::ValidateSnapshot(c.snapshot); !st) return st;
  Timing t = TimeCycles(c.snapshot, repeat);
  if (c.check) {
    if (auto st = c.check(t.plan); !st) return st;
  }
  nlohmann::json line = Line(name, nodes, t, BaselineMs(c.snapshot, repeat));
  line.update(c.extra);
  if (line.contains("tasks")) {
    line["tasks_per_s"] = line["tasks"].get<double>() / (t.median_ms / 1000.0);
  }
  out << line.dump() << std::endl;
  if (!c.steady) return Status::Ok();
  constexpr int64_t kChanges = 100;
  core::Snapshot steady = SteadySnapshot(std::move(c.snapshot), t.plan, kChanges);
  if (auto st = core::ValidateSnapshot(steady); !st) return st;
  Timing s = TimeCycles(steady, repeat);
  nlohmann::json next = Line(name + "-steady", nodes, s, BaselineMs(steady, repeat));
  next["changes"] = kChanges;
  next["workloads"] = steady.workloads.size();
  out << next.dump() << std::endl;
  return Status::Ok();
}

Case Reclaim(const BenchOptions& /*o*/, int64_t nodes) {
  int64_t gang_tasks = std::max<int64_t>(1, nodes / 10);
  auto check = [nodes, gang_tasks](const core::Plan& plan) -> Status {
    if (static_cast<int64_t>(plan.binds.size()) == gang_tasks &&
        static_cast<int64_t>(plan.evictions.size()) == gang_tasks * 8) {
      return Status::Ok();
    }
    return Error{"reclaim at " + std::to_string(nodes) + " nodes bound " +
                 std::to_string(plan.binds.size()) + " and evicted " +
                 std::to_string(plan.evictions.size()) + ": expected " +
                 std::to_string(gang_tasks) + " and " + std::to_string(gang_tasks * 8)};
  };
  return {ReclaimCluster(nodes), check, {{"gang_tasks", gang_tasks}}};
}

Case Cycle(const BenchOptions& o, int64_t nodes) {
  core::Snapshot snap = BusyCluster(nodes, o.pending, o.seed);
  nlohmann::json extra = {{"pending", o.pending}, {"workloads", snap.workloads.size()}};
  return {std::move(snap), nullptr, extra, true};
}

Case Place(const BenchOptions& o, int64_t nodes) {
  auto check = [nodes, tasks = o.tasks](const core::Plan& plan) -> Status {
    if (static_cast<int64_t>(plan.binds.size()) == tasks) return Status::Ok();
    return Error{"place at " + std::to_string(nodes) + " nodes bound " +
                 std::to_string(plan.binds.size()) + " of " + std::to_string(tasks) +
                 " tasks: give more nodes or fewer tasks"};
  };
  return {EmptyClusterWithTasks(nodes, o.tasks, o.seed), check, {{"tasks", o.tasks}}};
}

}  // namespace

const std::vector<std::string>& BenchNames() {
  static const std::vector<std::string> kNames = {"reclaim", "cycle", "place"};
  return kNames;
}

Status RunBench(const BenchOptions& options, std::ostream& out) {
  std::function<Case(const BenchOptions&, int64_t)> make;
  if (options.name == "reclaim") make = Reclaim;
  if (options.name == "cycle") make = Cycle;
  if (options.name == "place") make = Place;
  if (!make) {
    return Error{"unknown benchmark '" + options.name + "': use reclaim, cycle or place", "name"};
  }
  if (options.repeat < 1) return Error{"--repeat must be at least 1", "repeat"};
  for (int64_t nodes : options.nodes) {
    if (nodes < 1) return Error{"--nodes must be at least 1", "nodes"};
    if (auto st = Run(options.name, nodes, make(options, nodes), options.repeat, out); !st) {
      return st;
    }
  }
  return Status::Ok();
}

}  // namespace allot::bench
