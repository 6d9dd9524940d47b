#include "sim/pack/pack_experiment.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <map>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include "sim/go_rand.h"
#include "sim/pack/fraction_ceiling.h"
#include "sim/pack/fragmentation_moves.h"
#include "sim/pack/pack_policy.h"
#include "sim/svg_chart.h"

namespace allot::sim {

namespace {

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// The published simulator's workload tuning, drawing from `rand` as it does:
// after one discarded draw (the simulator logs rand.Int()), the list sorted
// by name is shuffled; if it asks for more than 130 % of capacity, random
// tasks are dropped until it does not; otherwise tasks drawn from the list
// in name order are appended until one would pass 130 %. That last test, as
// published, adds the drawn task's per-GPU share, not its whole request, so
// a multi-GPU task can end the workload a little above 130 %.
std::vector<OpenbTask> DrawWorkload(const std::vector<OpenbTask>& task_list, int64_t capacity_milli,
                                    GoRand& rand) {
  rand.Int63();
  std::vector<const OpenbTask*> by_name;
  by_name.reserve(task_list.size());
  for (const OpenbTask& task : task_list) by_name.push_back(&task);
  std::stable_sort(by_name.begin(), by_name.end(),
                   [](const OpenbTask* a, const OpenbTask* b) { return a->name < b->name; });
  std::vector<const OpenbTask*> order = by_name;
  rand.Shuffle(order);
  int64_t request = 0;
  for (const OpenbTask* task : order) request += task->TotalGpuMilli();
  // request > 130 % of capacity, in integers.
  auto over_target = [&](int64_t milli) {
    return milli * 100 > capacity_milli * kMaxArrivedPercent;
  };
  if (over_target(request)) {
    while (over_target(request) && !order.empty()) {
      size_t drop = size_t(rand.Intn(int32_t(order.size())));
      request -= order[drop]->TotalGpuMilli();
      order.erase(order.begin() + static_cast<std::ptrdiff_t>(drop));
    }
  } else if (request * 100 < capacity_milli * kMaxArrivedPercent && !by_name.empty()) {
    for (;;) {
      const OpenbTask* next = by_name[size_t(rand.Intn(int32_t(by_name.size())))];
      if (over_target(request + next->gpu_milli)) break;
      request += next->TotalGpuMilli();
      order.push_back(next);
    }
  }
  std::vector<OpenbTask> workload;
  workload.reserve(order.size());
  for (const OpenbTask* task : order) workload.push_back(*task);
  return workload;
}

}  // namespace

std::vector<OpenbTask> BuildWorkload(const std::vector<OpenbTask>& task_list,
                                     int64_t capacity_milli, uint64_t seed) {
  GoRand rand(static_cast<int64_t>(seed));
  return DrawWorkload(task_list, capacity_milli, rand);
}

SeedDraws DrawSeed(const OpenbCluster& cluster, const std::vector<OpenbTask>& task_list,
                   uint64_t seed) {
  GoRand rand(static_cast<int64_t>(seed));
  SeedDraws draws;
  draws.workload = DrawWorkload(task_list, cluster.TotalGpuMilli(), rand);
  // The published simulator then sorts the nodes by name and prefixes the
  // i-th one's name with rand.Perm(nodes)[i]; its scheduler gives a tie to
  // the smallest name, so that number is the node's rank.
  std::vector<uint32_t> by_name(cluster.nodes.size());
  std::iota(by_name.begin(), by_name.end(), 0u);
  std::stable_sort(by_name.begin(), by_name.end(), [&](uint32_t a, uint32_t b) {
    return cluster.nodes[a].name < cluster.nodes[b].name;
  });
  std::vector<int32_t> rank = rand.Perm(int32_t(by_name.size()));
  std::vector<uint32_t> ranked(by_name.size());
  for (size_t i = 0; i < by_name.size(); ++i) ranked[size_t(rank[i])] = by_name[i];
  for (uint32_t n : ranked) {
    if (cluster.nodes[n].gpus > 0) draws.node_order.push_back(n);
  }
  return draws;
}

Result<PackRun> RunPack(const OpenbCluster& cluster, const std::vector<OpenbTask>& task_list,
                        const std::string& workload_name, const std::string& policy_name,
                        uint64_t seed) {
  auto policy = MakePackPolicy(policy_name);
  if (!policy) return policy.error();
  auto started = std::chrono::steady_clock::now();
  SeedDraws draws = DrawSeed(cluster, task_list, seed);
  const std::vector<OpenbTask>& workload = draws.workload;
  PackCluster state(cluster, draws.node_order);
  if (state.capacity_milli() == 0) return Error("the node list has no GPU node", "nodes");

  // The fragmentation reported for every policy: the published measure.
  FragmentationMoves measure;
  measure.Prepare(state, TypicalShapes(task_list, false), sched::FragmentationRules{});
  double fragment = 0;
  for (uint32_t n = 0; n < state.size(); ++n) fragment += measure.Fragmentation(n);

  (*policy)->Prepare(state, task_list);
  (*policy)->PrepareRun(state, workload);
  // Random's own choices: the published ones cannot be replayed (its
  // scheduler lists feasible nodes in the order parallel filters finish).
  Rng rng(seed);
  PackRun run;
  run.workload = workload_name;
  run.policy = policy_name;
  run.seed = seed;
  run.tasks = static_cast<int64_t>(workload.size());
  const double capacity = double(state.capacity_milli());
  int64_t arrived = 0;
  int next_percent = 0;
  std::chrono::nanoseconds deciding{0};
  auto record_until = [&](int64_t arrived_after) {
    while (next_percent <= kMaxArrivedPercent &&
           arrived_after > state.capacity_milli() * next_percent / 100) {
      run.alloc_pct[next_percent] = 100.0 * double(state.allocated_milli()) / capacity;
      run.frag_pct[next_percent] = 100.0 * fragment / capacity;
      ++next_percent;
    }
  };
  for (const OpenbTask& task : workload) {
    record_until(arrived + task.TotalGpuMilli());
    arrived += task.TotalGpuMilli();
    auto t0 = std::chrono::steady_clock::now();
    auto choice = (*policy)->Choose(state, task, rng);
    deciding += std::chrono::steady_clock::now() - t0;
    if (!choice) {
      ++run.failed;
      continue;
    }
    if (!state.FitsOn(choice->node, task, choice->gpus)) {
      return Error("policy " + policy_name + " placed task '" + task.name + "' on node '" +
                       (choice->node < state.size() ? state.node(choice->node).name : "?") +
                       "' where it does not fit (a bug in the policy)",
                   "policy");
    }
    state.Bind(choice->node, task, choice->gpus);
    (*policy)->Bound(state, choice->node);
    fragment -= measure.Fragmentation(choice->node);
    measure.Refresh(state, choice->node);
    fragment += measure.Fragmentation(choice->node);
  }
  record_until(std::numeric_limits<int64_t>::max());
  run.place_us_per_task =
      workload.empty() ? 0 : double(deciding.count()) / 1000.0 / double(workload.size());
  run.run_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return run;
}

Result<std::vector<uint64_t>> ParseSeeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  std::stringstream in(text);
  std::string item;
  auto bad = [&] {
    return Error(
        "--seeds: '" + text + "' is not a seed list: use a range like 42-51 or a list like 42,43",
        "seeds");
  };
  while (std::getline(in, item, ',')) {
    auto dash = item.find('-');
    try {
      if (dash == std::string::npos) {
        size_t used = 0;
        seeds.push_back(std::stoull(item, &used));
        if (used != item.size()) return bad();
      } else {
        size_t used_a = 0, used_b = 0;
        std::string a = item.substr(0, dash), b = item.substr(dash + 1);
        uint64_t first = std::stoull(a, &used_a), last = std::stoull(b, &used_b);
        if (used_a != a.size() || used_b != b.size() || last < first || last - first > 10000) {
          return bad();
        }
        for (uint64_t s = first; s <= last; ++s) seeds.push_back(s);
      }
    } catch (const std::exception&) {
      return bad();
    }
  }
  if (seeds.empty()) return bad();
  return seeds;
}

double PublishedMedian(const std::string& workload, const std::string& policy) {
  // Weng et al., ATC 2023, as listed in ../shared/data/openb/README.md.
  static const std::map<std::string, std::array<double, 6>> table = {
      {"default", {86.25, 90.56, 91.58, 91.81, 92.91, 95.23}},
      {"gpushare40", {84.96, 89.34, 89.82, 89.81, 91.47, 93.95}},
      {"gpushare80", {80.65, 84.11, 84.55, 84.72, 86.73, 89.09}},
      {"multigpu20", {86.84, 91.81, 93.38, 93.51, 93.73, 95.53}},
      {"multigpu40", {85.23, 94.09, 95.47, 95.56, 95.09, 96.90}},
      {"gpuspec10", {86.31, 90.25, 91.94, 92.23, 93.12, 94.70}},
      {"gpuspec25", {85.41, 85.45, 86.41, 86.78, 85.70, 93.92}},
      {"cpu050", {88.98, 93.06, 93.48, 93.53, 93.58, 95.00}},
      {"cpu200", {83.00, 87.76, 89.75, 90.13, 92.15, 94.82}},
  };
  const std::string prefix = "openb_pod_list_";
  std::string key = workload.rfind(prefix, 0) == 0 ? workload.substr(prefix.size()) : workload;
  auto row = table.find(key);
  const auto& names = PackPolicyNames();
  auto col = std::find(names.begin(), names.end(), policy) - names.begin();
  if (row == table.end() || col >= 6) return -1;
  return row->second[static_cast<size_t>(col)];
}

namespace {

struct Job {
  size_t workload;
  std::string policy;
  uint64_t seed;
};

// The median over the seeds at 100 % arrived, or -1 when the policy did not run.
double MedianAt100(const std::vector<PackRun>& runs, const std::string& workload,
                   const std::string& policy) {
  std::vector<double> at100;
  for (const auto& run : runs) {
    if (run.workload == workload && run.policy == policy) at100.push_back(run.alloc_pct[100]);
  }
  return at100.empty() ? -1 : Median(at100);
}

// ceilings[w][i]: workload w's ceiling at options.seeds[i].
Status WriteOutputs(const PackOptions& options, const std::vector<std::string>& workloads,
                    const std::vector<PackRun>& runs,
                    const std::vector<std::vector<FractionCeiling>>& ceilings, std::ostream& out) {
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) return Error("--out: cannot create '" + options.out_dir + "': " + ec.message(), "out");

  std::ostringstream curve;
  curve << "workload,policy,seed,arrived_pct,alloc_pct,frag_pct\n";
  std::ostringstream summary;
  summary << "workload,policy,seed,alloc_100\n";
  curve << std::fixed << std::setprecision(3);
  summary << std::fixed << std::setprecision(3);
  for (const auto& run : runs) {
    for (int p = 0; p <= kMaxArrivedPercent; ++p) {
      curve << run.workload << "," << run.policy << "," << run.seed << "," << p << ","
            << run.alloc_pct[p] << "," << run.frag_pct[p] << "\n";
    }
    summary << run.workload << "," << run.policy << "," << run.seed << "," << run.alloc_pct[100]
            << "\n";
  }
  std::ostringstream ceiling;
  ceiling << "workload,seed,arrived_gpus,fraction_gpus,min_fraction_gpus,ceiling_all_placed_100,"
             "ceiling_100\n";
  ceiling << std::fixed << std::setprecision(3);
  std::vector<double> median_all_placed, median_any_policy;
  for (size_t w = 0; w < workloads.size(); ++w) {
    std::vector<double> all_placed, any_policy;
    for (size_t i = 0; i < options.seeds.size(); ++i) {
      const FractionCeiling& c = ceilings[w][i];
      ceiling << workloads[w] << "," << options.seeds[i] << ","
              << double(c.arrived_milli) / kMilliPerGpu << ","
              << double(c.fraction_milli) / kMilliPerGpu << "," << c.min_fraction_gpus << ","
              << c.all_placed_pct << "," << c.any_policy_pct << "\n";
      all_placed.push_back(c.all_placed_pct);
      any_policy.push_back(c.any_policy_pct);
    }
    median_all_placed.push_back(Median(all_placed));
    median_any_policy.push_back(Median(any_policy));
  }
  // One panel per workload: the median curve of each policy over the seeds.
  std::vector<Chart> panels;
  out << std::fixed << std::setprecision(2);
  out << "workload,policy,median_alloc_100,published,difference,median_place_us_per_task,"
         "median_run_s,ceiling_all_placed_100,ceiling_100,vs_fgd,closed_of_fgd_gap_pct\n";
  for (size_t w = 0; w < workloads.size(); ++w) {
    const std::string& workload = workloads[w];
    Chart chart;
    chart.title = workload + ": GPU allocation as the request arrives (median of " +
                  std::to_string(options.seeds.size()) + " seeds)";
    chart.x_label = "GPU request arrived (% of cluster GPUs)";
    chart.y_label = "GPUs allocated (% of cluster GPUs)";
    chart.x_min = 0;
    chart.x_max = kMaxArrivedPercent;
    chart.y_min = 0;
    chart.y_max = 100;
    for (const auto& policy : options.policies) {
      ChartSeries series;
      series.name = policy;
      series.dashed = policy == "allot";
      std::vector<double> at100, place, seconds;
      for (int p = 0; p <= kMaxArrivedPercent; ++p) {
        std::vector<double> values;
        for (const auto& run : runs) {
          if (run.workload == workload && run.policy == policy) values.push_back(run.alloc_pct[p]);
        }
        series.points.emplace_back(p, Median(values));
      }
      for (const auto& run : runs) {
        if (run.workload != workload || run.policy != policy) continue;
        at100.push_back(run.alloc_pct[100]);
        place.push_back(run.place_us_per_task);
        seconds.push_back(run.run_seconds);
      }
      chart.series.push_back(std::move(series));
      double median = Median(at100);
      double published = PublishedMedian(workload, policy);
      out << workload << "," << policy << "," << median << ",";
      if (published >= 0) {
        out << published << "," << std::showpos << median - published << std::noshowpos;
      } else {
        out << ",";
      }
      out << "," << Median(place) << "," << Median(seconds) << "," << median_all_placed[w] << ","
          << median_any_policy[w] << ",";
      double fgd = MedianAt100(runs, workload, "fgd");
      if (fgd >= 0 && policy != "fgd") {
        out << std::showpos << median - fgd << std::noshowpos << ",";
        // The share of FGD's distance to the all-placed ceiling that the policy closes.
        double gap = median_all_placed[w] - fgd;
        if (gap > 0) out << 100 * (median - fgd) / gap;
      } else {
        out << ",";
      }
      out << "\n";
    }
    panels.push_back(std::move(chart));
  }
  const std::string dir = options.out_dir + "/";
  if (!WriteTextFile(dir + "curve.csv", curve.str()) ||
      !WriteTextFile(dir + "summary.csv", summary.str()) ||
      !WriteTextFile(dir + "ceiling.csv", ceiling.str()) ||
      !WriteTextFile(dir + "allocation.svg", RenderSvg(panels, 1))) {
    return Error("--out: cannot write the result files in '" + options.out_dir + "'", "out");
  }
  return Status::Ok();
}

}  // namespace

Status RunPackExperiment(const PackOptions& options, std::ostream& out) {
  for (const auto& policy : options.policies) {
    auto made = MakePackPolicy(policy);
    if (!made) return Error("--policy: " + made.error().message, "policy");
  }
  auto cluster = LoadOpenbNodes(options.nodes_path);
  if (!cluster) return cluster.error();
  std::vector<std::vector<OpenbTask>> lists;
  std::vector<std::string> workloads;
  for (const auto& path : options.task_paths) {
    auto tasks = LoadOpenbTasks(path, *cluster);
    if (!tasks) return tasks.error();
    lists.push_back(std::move(*tasks));
    workloads.push_back(WorkloadName(path));
  }
  std::vector<Job> jobs;
  for (size_t w = 0; w < lists.size(); ++w) {
    for (const auto& policy : options.policies) {
      for (uint64_t seed : options.seeds) jobs.push_back({w, policy, seed});
    }
  }
  std::vector<PackRun> runs(jobs.size());
  std::vector<std::string> errors(jobs.size());
  std::atomic<size_t> next{0};
  int threads = options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t j = next++; j < jobs.size(); j = next++) {
        auto run = RunPack(*cluster, lists[jobs[j].workload], workloads[jobs[j].workload],
                           jobs[j].policy, jobs[j].seed);
        if (run) {
          runs[j] = std::move(*run);
        } else {
          errors[j] = run.error().message;
        }
      }
    });
  }
  for (auto& thread : pool) thread.join();
  for (const auto& error : errors) {
    if (!error.empty()) return Error(error);
  }
  // The workloads do not depend on the policy: one ceiling per workload and seed.
  std::vector<std::vector<FractionCeiling>> ceilings(lists.size());
  for (size_t w = 0; w < lists.size(); ++w) {
    for (uint64_t seed : options.seeds) {
      ceilings[w].push_back(FractionCeilingAt100(
          BuildWorkload(lists[w], cluster->TotalGpuMilli(), seed), cluster->TotalGpuMilli()));
    }
  }
  return WriteOutputs(options, workloads, runs, ceilings, out);
}

}  // namespace allot::sim
