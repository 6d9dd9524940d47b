#include "sim/replay/replay.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/apply_plan.h"
#include "core/snapshot.h"
#include "sched/scheduler.h"
#include "sim/csv_reader.h"
#include "sim/svg_chart.h"

namespace allot::sim {

const std::vector<std::string>& ReplayPolicyNames() {
  static const std::vector<std::string> names = {"static", "allot", "fifo"};
  return names;
}

namespace {

constexpr int64_t kMs = 1000;
constexpr int64_t kGpuMemoryMib = 32768;  // GPU memory is not constrained in replays

// What the replay tracks about one live workload, beside the snapshot.
struct Live {
  size_t row = 0;
  int64_t done_ms = 0;                   // run time accumulated before the current run
  std::optional<int64_t> running_since;  // ms, while at least its minimum is placed
  std::optional<int64_t> first_start;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(std::ceil(p * double(values.size()))) - 1;
  return values[std::min(index, values.size() - 1)];
}

double Mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / double(values.size());
}

core::Snapshot BaseSnapshot(const OpenbCluster& cluster, const std::vector<ProjectQuota>& quotas,
                            const std::string& policy) {
  core::Snapshot snapshot;
  for (const auto& node : cluster.nodes) {
    core::NodeSpec spec;
    spec.name = node.name;
    spec.cpu_milli = node.cpu_milli;
    spec.memory_mib = node.memory_mib;
    for (int g = 0; g < node.gpus; ++g) {
      spec.gpus.push_back({g, node.name + "-gpu" + std::to_string(g),
                           cluster.models.Name(node.model), kGpuMemoryMib});
    }
    snapshot.nodes.push_back(std::move(spec));
  }
  if (policy == "fifo") {
    core::QueueSpec shared;
    shared.name = "shared";
    snapshot.queues.push_back(shared);
    return snapshot;
  }
  for (const auto& quota : quotas) {
    core::QueueSpec queue;
    queue.name = quota.project;
    queue.deserved = core::Resources::Of(quota.gpus * kMilliPerGpu, 0, 0, 0);
    if (policy == "static") {
      queue.limit = core::Resources::Of(quota.gpus * kMilliPerGpu, core::kUnlimited,
                                        core::kUnlimited, core::kUnlimited);
    }
    queue.weight = core::Resources::Uniform(std::max<int64_t>(1, quota.gpus));
    snapshot.queues.push_back(std::move(queue));
  }
  return snapshot;
}

core::Workload MakeWorkload(const TraceRow& row, size_t index, const std::string& policy) {
  core::Workload w;
  w.spec.name = "w" + std::to_string(index);
  w.spec.queue = policy == "fifo" ? "shared" : row.project;
  w.spec.kind = row.kind;
  auto defaults = core::DefaultsFor(row.kind);
  w.spec.priority = policy == "fifo" ? 50 : defaults.priority;
  w.spec.preemptible = policy == "fifo" ? true : defaults.preemptible;
  w.spec.tasks = row.tasks;
  w.spec.min_tasks = row.min_tasks;
  w.spec.request.gpu_milli = row.gpu_milli;
  w.spec.request.cpu_milli = row.cpu_milli;
  w.spec.request.memory_mib = row.memory_mib;
  for (const auto& model : SplitCsvLine(row.gpu_model, '|')) {
    if (!model.empty()) w.spec.gpu_models.push_back(model);
  }
  w.spec.submitted_at = row.arrival_s * kMs;
  w.tasks.resize(static_cast<size_t>(row.tasks));
  return w;
}

int64_t PlacedGpuMilli(const core::Workload& w) {
  return w.PlacedTasks() * w.spec.request.gpu_milli;
}

// GPU milli a workload still asks for before it can run (0 once running).
int64_t WaitingGpuMilli(const core::Workload& w) {
  int32_t missing = std::max(0, w.spec.min_tasks - w.PlacedTasks());
  return missing * w.spec.request.gpu_milli;
}

// One team over one interval: GPUs held, GPUs its waiting work asks for.
struct TeamDemand {
  int64_t allocated = 0;
  int64_t waiting = 0;
  int64_t waiting_gangs = 0;
};

// Adds dt_h hours of each team's shortfall against its guarantee
// (TeamResult::shortfall_*). `idle` is the cluster's free GPU milli.
void AddShortfall(const std::vector<ProjectQuota>& quotas, const std::vector<TeamDemand>& teams,
                  int64_t idle, double dt_h, std::vector<TeamResult>& out) {
  int64_t lent = 0;  // GPUs held above guarantees, summed over teams
  for (size_t t = 0; t < teams.size(); ++t) {
    lent += std::max<int64_t>(0, teams[t].allocated - quotas[t].gpus * kMilliPerGpu);
  }
  for (size_t t = 0; t < teams.size(); ++t) {
    int64_t below = quotas[t].gpus * kMilliPerGpu - teams[t].allocated;
    int64_t shortfall = std::min(below, teams[t].waiting);
    if (shortfall <= 0) continue;
    auto gpu_hours = [&](int64_t milli) { return double(milli) / double(kMilliPerGpu) * dt_h; };
    out[t].shortfall_gpu_hours += gpu_hours(shortfall);
    out[t].shortfall_lent_gpu_hours += gpu_hours(std::min(shortfall, lent));
    out[t].shortfall_idle_gpu_hours += gpu_hours(std::min(shortfall, idle));
    out[t].shortfall_gang_gpu_hours += gpu_hours(std::min(shortfall, teams[t].waiting_gangs));
  }
}

}  // namespace

Result<ReplayResult> RunReplay(const OpenbCluster& cluster, const std::vector<TraceRow>& trace,
                               const std::vector<ProjectQuota>& quotas, const std::string& policy,
                               const ReplaySettings& settings) {
  const auto& names = ReplayPolicyNames();
  if (std::find(names.begin(), names.end(), policy) == names.end()) {
    return Error("unknown policy '" + policy + "': use static, allot or fifo", "policy");
  }
  std::map<std::string, size_t> team_index;
  for (size_t i = 0; i < quotas.size(); ++i) team_index[quotas[i].project] = i;
  for (const auto& row : trace) {
    if (!team_index.count(row.project)) {
      return Error("the trace's project '" + row.project +
                       "' has no line in the quota file: add it (with 0 GPUs if it has no "
                       "guarantee)",
                   "quotas");
    }
  }
  sched::SchedulerConfig config;
  config.reservation_after = settings.reservation_after;
  config.max_reservations = settings.max_reservations;
  config.min_runtime = settings.min_runtime;
  if (policy == "fifo") config.actions = {"allocate", "stale-gang"};
  auto scheduler = sched::Scheduler::Create(config);
  if (!scheduler) return scheduler.error();

  core::Snapshot world = BaseSnapshot(cluster, quotas, policy);
  if (auto valid = core::ValidateSnapshot(world); !valid) {
    return Error("the quotas do not fit the cluster: " + valid.error().message, "quotas");
  }
  const int64_t capacity = cluster.TotalGpuMilli();
  const int64_t cycle_ms = settings.cycle_s * kMs;
  const int64_t end_ms = (trace.back().arrival_s + 1) * kMs;

  ReplayResult result;
  result.policy = policy;
  for (const auto& q : quotas) {
    TeamResult team;
    team.project = q.project;
    team.quota_gpus = q.gpus;
    result.teams.push_back(team);
  }
  std::vector<Live> live;
  std::vector<double> completion_h, wait_h, gang_wait_h;
  double alloc_integral = 0;
  std::vector<double> team_integral(quotas.size(), 0);
  size_t next_row = 0;
  double cycle_ms_total = 0;
  int64_t now = trace.front().arrival_s * kMs;
  bool busy = false;  // the last plan changed something: cycle again soon

  while (now < end_ms) {
    world.now = now;
    // Finished work leaves.
    for (size_t i = 0; i < live.size();) {
      Live& l = live[i];
      int64_t duration = trace[l.row].duration_s * kMs;
      if (l.running_since && l.done_ms + (now - *l.running_since) >= duration) {
        int64_t finished = *l.running_since + (duration - l.done_ms);
        completion_h.push_back(double(finished - trace[l.row].arrival_s * kMs) / 3.6e6);
        world.workloads.erase(world.workloads.begin() + static_cast<std::ptrdiff_t>(i));
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
        busy = true;
        continue;
      }
      ++i;
    }
    // Arrivals.
    while (next_row < trace.size() && trace[next_row].arrival_s * kMs <= now) {
      world.workloads.push_back(MakeWorkload(trace[next_row], next_row, policy));
      live.push_back({next_row, 0, std::nullopt, std::nullopt});
      ++next_row;
      busy = true;
    }
    if (busy) {
      auto t0 = std::chrono::steady_clock::now();
      core::Plan plan = (*scheduler)->Cycle(world);
      cycle_ms_total +=
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ++result.cycles;
      std::set<uint32_t> rebound;
      std::map<uint32_t, core::EvictionKind> evicted;  // the first eviction's kind
      for (const auto& b : plan.binds) rebound.insert(b.task.workload);
      for (const auto& e : plan.evictions) {
        if (!rebound.count(e.task.workload)) evicted.emplace(e.task.workload, e.kind);
      }
      result.preemptions += static_cast<int64_t>(evicted.size());
      for (const auto& [w, kind] : evicted) ++result.preemptions_by_kind[static_cast<size_t>(kind)];
      core::ApplyPlan(plan, world);
      busy = !plan.binds.empty() || !plan.evictions.empty();
      for (size_t i = 0; i < live.size(); ++i) {
        Live& l = live[i];
        bool running = world.workloads[i].PlacedTasks() >= world.workloads[i].spec.min_tasks;
        if (running && !l.running_since) {
          l.running_since = now;
          if (!l.first_start) {
            l.first_start = now;
            wait_h.push_back(double(now - trace[l.row].arrival_s * kMs) / 3.6e6);
            if (trace[l.row].min_tasks > 1) gang_wait_h.push_back(wait_h.back());
          }
        } else if (!running && l.running_since) {
          l.done_ms += now - *l.running_since;
          l.running_since.reset();
        }
      }
    }
    // The next instant: a cycle interval on while work moves, else the next
    // arrival or completion.
    int64_t next = std::numeric_limits<int64_t>::max();
    if (next_row < trace.size()) next = trace[next_row].arrival_s * kMs;
    for (const auto& l : live) {
      if (l.running_since) {
        next = std::min(next, *l.running_since + trace[l.row].duration_s * kMs - l.done_ms);
      }
    }
    if (busy) next = std::min(next, now + cycle_ms);
    next = std::max(next, now + cycle_ms);  // at most one cycle per interval
    next = std::min(next, end_ms);
    // Integrate the allocation over [now, next).
    const double dt_h = double(next - now) / 3.6e6;
    int64_t allocated = 0;
    std::vector<TeamDemand> demand(quotas.size());
    for (size_t i = 0; i < live.size(); ++i) {
      const auto& w = world.workloads[i];
      TeamDemand& team = demand[team_index[trace[live[i].row].project]];
      int64_t gpu = PlacedGpuMilli(w);
      allocated += gpu;
      team.allocated += gpu;
      team.waiting += WaitingGpuMilli(w);
      if (w.spec.min_tasks > 1) team.waiting_gangs += WaitingGpuMilli(w);
    }
    alloc_integral += double(allocated) / double(capacity) * dt_h;
    AddShortfall(quotas, demand, capacity - allocated, dt_h, result.teams);
    std::vector<double> gpus_now(quotas.size());
    for (size_t t = 0; t < quotas.size(); ++t) {
      team_integral[t] += double(demand[t].allocated) / 1000.0 * dt_h;
      gpus_now[t] = double(demand[t].allocated) / 1000.0;
      if (demand[t].waiting > 0 && demand[t].allocated < quotas[t].gpus * kMilliPerGpu) {
        result.teams[t].hours_below_guarantee += dt_h;
      }
    }
    const double hours = double(now - trace.front().arrival_s * kMs) / 3.6e6;
    result.allocation.emplace_back(hours, 100.0 * double(allocated) / double(capacity));
    result.team_gpus.push_back(std::move(gpus_now));
    now = next;
  }
  result.hours = double(end_ms - trace.front().arrival_s * kMs) / 3.6e6;
  result.mean_alloc_pct = result.hours > 0 ? 100.0 * alloc_integral / result.hours : 0;
  for (size_t t = 0; t < quotas.size(); ++t) {
    result.teams[t].mean_gpus = result.hours > 0 ? team_integral[t] / result.hours : 0;
  }
  result.completed = static_cast<int64_t>(completion_h.size());
  result.unfinished =
      static_cast<int64_t>(live.size()) + static_cast<int64_t>(trace.size() - next_row);
  for (const auto& l : live) result.never_started += !l.first_start;
  for (size_t i = 0; i < next_row; ++i) result.gangs += trace[i].min_tasks > 1;
  result.gangs_never_started = result.gangs - static_cast<int64_t>(gang_wait_h.size());
  result.gang_mean_wait_h = Mean(gang_wait_h);
  result.mean_completion_h = Mean(completion_h);
  result.p95_completion_h = Percentile(completion_h, 0.95);
  result.mean_wait_h = Mean(wait_h);
  result.p95_wait_h = Percentile(wait_h, 0.95);
  result.cycle_ms_mean = result.cycles ? cycle_ms_total / double(result.cycles) : 0;
  return result;
}

namespace {

// Thins a series to at most `limit` points for the charts.
std::vector<std::pair<double, double>> Thin(const std::vector<std::pair<double, double>>& points,
                                            size_t limit) {
  if (points.size() <= limit) return points;
  std::vector<std::pair<double, double>> out;
  double step = double(points.size()) / double(limit);
  for (double i = 0; i < double(points.size()); i += step) out.push_back(points[size_t(i)]);
  return out;
}

int64_t ByKind(const ReplayResult& r, core::EvictionKind kind) {
  return r.preemptions_by_kind[static_cast<size_t>(kind)];
}

}  // namespace

Status RunReplayExperiment(const ReplayOptions& options, std::ostream& out) {
  for (const auto& policy : options.policies) {
    const auto& names = ReplayPolicyNames();
    if (std::find(names.begin(), names.end(), policy) == names.end()) {
      return Error("--policy: unknown policy '" + policy + "': use static, allot, fifo or all",
                   "policy");
    }
  }
  if (options.settings.cycle_s < 1) return Error("--cycle: must be at least 1 second", "cycle");
  if (options.settings.reservation_after < 0) {
    return Error("--reservation-after: must be 0s or more", "reservation_after");
  }
  if (options.settings.min_runtime < 0) {
    return Error("--min-runtime: must be 0s or more", "min_runtime");
  }
  if (options.settings.max_reservations < 0) {
    return Error("--max-reservations: must be 0 or more", "max_reservations");
  }
  auto cluster = LoadOpenbNodes(options.nodes_path);
  if (!cluster) return cluster.error();
  auto trace = LoadTrace(options.trace_path, *cluster);
  if (!trace) return trace.error();
  auto quotas = LoadQuotas(options.quotas_path);
  if (!quotas) return quotas.error();
  std::vector<ReplayResult> results;
  for (const auto& policy : options.policies) {
    auto result = RunReplay(*cluster, *trace, *quotas, policy, options.settings);
    if (!result) return result.error();
    results.push_back(std::move(*result));
  }

  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) return Error("--out: cannot create '" + options.out_dir + "': " + ec.message(), "out");
  std::ostringstream summary, teams, timeline;
  summary << std::fixed << std::setprecision(2);
  teams << std::fixed << std::setprecision(2);
  timeline << std::fixed << std::setprecision(3);
  summary << "policy,mean_alloc_pct,mean_completion_h,p95_completion_h,mean_wait_h,p95_wait_h,"
             "completed,unfinished,never_started,preemptions,reclaims,priority_preemptions,"
             "gang_restarts,cycles,cycle_ms_mean,gangs,"
             "gang_mean_wait_h,gangs_never_started\n";
  teams << "policy,project,quota_gpus,hours_below_guarantee_with_pending,mean_gpus,"
           "shortfall_gpu_hours,shortfall_lent_gpu_hours,shortfall_idle_gpu_hours,"
           "shortfall_gang_gpu_hours\n";
  timeline << "policy,hours,alloc_pct";
  for (const auto& q : *quotas) timeline << "," << q.project;
  timeline << "\n";
  std::vector<Chart> team_panels;
  Chart alloc;
  alloc.title = "GPU allocation over time";
  alloc.x_label = "simulated hours";
  alloc.y_label = "GPUs allocated (% of cluster)";
  alloc.y_max = 100;
  for (const auto& r : results) {
    summary << r.policy << "," << r.mean_alloc_pct << "," << r.mean_completion_h << ","
            << r.p95_completion_h << "," << r.mean_wait_h << "," << r.p95_wait_h << ","
            << r.completed << "," << r.unfinished << "," << r.never_started << "," << r.preemptions
            << "," << ByKind(r, core::EvictionKind::kReclaim) << ","
            << ByKind(r, core::EvictionKind::kPreempt) << ","
            << ByKind(r, core::EvictionKind::kGangRestart) << "," << r.cycles << ","
            << r.cycle_ms_mean << "," << r.gangs << "," << r.gang_mean_wait_h << ","
            << r.gangs_never_started << "\n";
    for (const auto& t : r.teams) {
      teams << r.policy << "," << t.project << "," << t.quota_gpus << "," << t.hours_below_guarantee
            << "," << t.mean_gpus << "," << t.shortfall_gpu_hours << ","
            << t.shortfall_lent_gpu_hours << "," << t.shortfall_idle_gpu_hours << ","
            << t.shortfall_gang_gpu_hours << "\n";
    }
    for (size_t i = 0; i < r.allocation.size(); ++i) {
      timeline << r.policy << "," << r.allocation[i].first << "," << r.allocation[i].second;
      for (double g : r.team_gpus[i]) timeline << "," << g;
      timeline << "\n";
    }
    alloc.x_max = std::max(alloc.x_max, r.hours);
    alloc.series.push_back({r.policy, Thin(r.allocation, 2000), false});
    // Each of the largest teams: GPUs held against the guarantee (dashed).
    Chart panel;
    panel.title = r.policy + ": GPUs held by the largest teams against their guarantee (dashed)";
    panel.x_label = "simulated hours";
    panel.y_label = "GPUs";
    panel.x_max = r.hours;
    std::vector<size_t> order(r.teams.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return r.teams[a].quota_gpus > r.teams[b].quota_gpus; });
    order.resize(std::min<size_t>(order.size(), 4));
    double top = 1;
    for (size_t t : order) {
      std::vector<std::pair<double, double>> held;
      for (size_t i = 0; i < r.allocation.size(); ++i) {
        held.emplace_back(r.allocation[i].first, r.team_gpus[i][t]);
        top = std::max(top, r.team_gpus[i][t]);
      }
      panel.series.push_back({r.teams[t].project, Thin(held, 1500), false});
      double quota = double(r.teams[t].quota_gpus);
      top = std::max(top, quota);
      panel.series.push_back(
          {r.teams[t].project + " guarantee", {{0, quota}, {r.hours, quota}}, true});
    }
    panel.y_max = top * 1.1;
    team_panels.push_back(std::move(panel));
    out << r.policy << ": mean allocation " << std::fixed << std::setprecision(1)
        << r.mean_alloc_pct << " %, mean completion " << std::setprecision(2) << r.mean_completion_h
        << " h (p95 " << r.p95_completion_h << "), mean wait " << r.mean_wait_h << " h (p95 "
        << r.p95_wait_h << "), " << r.preemptions << " preemptions ("
        << ByKind(r, core::EvictionKind::kReclaim) << " reclaims, "
        << ByKind(r, core::EvictionKind::kPreempt) << " by priority), " << r.cycles << " cycles of "
        << r.cycle_ms_mean << " ms; gangs: mean wait " << r.gang_mean_wait_h << " h, "
        << r.gangs_never_started << " of " << r.gangs << " never started\n";
  }
  const std::string dir = options.out_dir + "/";
  if (!WriteTextFile(dir + "summary.csv", summary.str()) ||
      !WriteTextFile(dir + "teams.csv", teams.str()) ||
      !WriteTextFile(dir + "timeline.csv", timeline.str()) ||
      !WriteTextFile(dir + "allocation.svg", RenderSvg({alloc})) ||
      !WriteTextFile(dir + "teams.svg", RenderSvg(team_panels))) {
    return Error("--out: cannot write in '" + options.out_dir + "'", "out");
  }
  out << "wrote " << dir << "summary.csv, teams.csv, timeline.csv, allocation.svg, teams.svg\n";
  return Status::Ok();
}

}  // namespace allot::sim
