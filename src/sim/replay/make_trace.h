// Builds a replay trace from an openb task list: real task shapes and real
// durations (deletion minus creation), arrivals re-timed by a seeded Poisson
// process to a chosen offered load, tasks assigned to teams in proportion to
// the Helios team quotas scaled to the cluster.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "common/result.h"

namespace allot::sim {

struct MakeTraceOptions {
  std::string nodes_path;   // openb node list
  std::string tasks_path;   // openb task list with timestamps
  std::string helios_path;  // Helios earth_vc_gpu_quota_daily.csv
  int64_t gpus = 0;         // cluster size: nodes sampled until this many GPUs (0: all)
  double load = 1.2;        // offered GPU-time / GPU capacity
  double days = 2;          // arrivals over this many days
  // Durations are capped here: a few trace tasks ran for months, and one of
  // them would otherwise dominate the offered load of a days-long replay.
  double max_duration_h = 24;
  uint64_t seed = 42;
  std::string out_dir;  // writes nodes.csv, quotas.csv, trace.csv
};

// Kinds from qos: LS is interactive (a fraction) or inference (whole GPUs),
// Guaranteed inference, BE and Burstable training; a task with n >= 2 GPUs
// becomes a distributed gang of n one-GPU tasks (CPU and memory split).
Status MakeTrace(const MakeTraceOptions& options, std::ostream& out);

}  // namespace allot::sim
