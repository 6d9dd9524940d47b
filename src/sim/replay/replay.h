// Time-driven replay of a trace on the scheduler core (the same Cycle() the
// server runs): workloads arrive, the core decides every cycle with all its
// actions, placed work runs for its duration, evicted work returns to the
// queue and keeps the progress it made (checkpointed training). Compares
// quota policies on one trace:
//   static  each project owns its guaranteed GPUs; no lending
//   allot   guarantees with over-quota borrowing and reclaim
//   fifo    one shared queue in arrival order, no quotas
#pragma once

#include <array>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/plan.h"
#include "sched/config.h"
#include "sim/openb.h"
#include "sim/replay/trace.h"

namespace allot::sim {

const std::vector<std::string>& ReplayPolicyNames();

struct TeamResult {
  std::string project;
  int64_t quota_gpus = 0;
  double hours_below_guarantee = 0;  // allocated < guarantee while work was pending
  double mean_gpus = 0;              // time-averaged GPUs allocated
  // GPU-hours of the guarantee that waiting work asked for and did not get:
  // the integral of min(guarantee - allocated, GPUs its waiting work asks
  // for), where positive. Unlike hours_below_guarantee it weighs how far
  // below, so a gang of 8 waiting at 65 of 66 GPUs counts 1 GPU, not 66.
  double shortfall_gpu_hours = 0;
  // Of that shortfall, what the GPUs other teams held above their own
  // guarantees could have covered (reclaim's reach), and what idle GPU milli
  // could have covered (capacity free but in shapes the work could not use).
  double shortfall_lent_gpu_hours = 0;
  double shortfall_idle_gpu_hours = 0;
  // Of that shortfall, what waiting gangs (minimum of 2 tasks or more) asked.
  double shortfall_gang_gpu_hours = 0;
};

struct ReplayResult {
  std::string policy;
  double hours = 0;                                    // simulated time
  double mean_alloc_pct = 0;                           // time-averaged GPUs allocated / capacity
  double mean_completion_h = 0, p95_completion_h = 0;  // arrival to finish
  double mean_wait_h = 0, p95_wait_h = 0;              // arrival to first start
  int64_t completed = 0, unfinished = 0, never_started = 0;
  int64_t preemptions = 0;  // workloads evicted (consolidation moves excluded)
  // The same, per action that evicted them (index: core::EvictionKind): how
  // many were reclaims across teams, and how many preemptions by priority
  // inside a team. Consolidation moves work within one plan, so its entry
  // stays 0 and the entries sum to `preemptions`.
  std::array<int64_t, core::kEvictionKinds> preemptions_by_kind{};
  // Gangs (a minimum of 2 tasks or more): how many arrived, the mean wait of
  // those that started, and how many never started.
  int64_t gangs = 0, gangs_never_started = 0;
  double gang_mean_wait_h = 0;
  int64_t cycles = 0;
  double cycle_ms_mean = 0;
  std::vector<TeamResult> teams;
  // Per sample: hours, allocation %, GPUs per team (in `teams` order).
  std::vector<std::pair<double, double>> allocation;
  std::vector<std::vector<double>> team_gpus;
};

// How the replay drives the scheduler core.
struct ReplaySettings {
  int64_t cycle_s = 60;  // seconds between cycles while work moves
  // The core's reservation settings (sched::SchedulerConfig, docs/scheduling.md §5):
  // how long a gang waits before it holds GPUs as they free up, and how many
  // gangs hold at once. The trace declares no runtimes, so nothing may
  // backfill held GPUs.
  core::Duration reservation_after = sched::SchedulerConfig{}.reservation_after;
  int32_t max_reservations = sched::SchedulerConfig{}.max_reservations;
  // How long work runs before reclaim or preemption may evict it.
  core::Duration min_runtime = sched::SchedulerConfig{}.min_runtime;
};

Result<ReplayResult> RunReplay(const OpenbCluster& cluster, const std::vector<TraceRow>& trace,
                               const std::vector<ProjectQuota>& quotas, const std::string& policy,
                               const ReplaySettings& settings);

struct ReplayOptions {
  std::string nodes_path;
  std::string trace_path;
  std::string quotas_path;
  std::vector<std::string> policies;
  std::string out_dir;
  ReplaySettings settings;
};

// Runs each policy and writes DIR/summary.csv, DIR/teams.csv,
// DIR/timeline.csv, DIR/allocation.svg and DIR/teams.svg.
Status RunReplayExperiment(const ReplayOptions& options, std::ostream& out);

}  // namespace allot::sim
