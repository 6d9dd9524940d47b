// Workload variants of an openb task list, made the way the published ones
// were made from `default` (../shared/data/openb/README.md): the same task
// shapes, resampled so that one property of the list takes a chosen value.
// `allot sim make-variant` writes them; docs/simulation.md ("Variants")
// shows the set the packing policy is measured on.
//
// The knobs, each optional, combinable:
//   cpu_scale       every task's CPU request times this (0.25 to 3), capped
//                   at the largest node's CPU so that no task becomes
//                   impossible by CPU alone;
//   cpu_only_scale  the number of CPU-only tasks times this (0 to 4);
//   gpushare        the share of the GPU request that fractional tasks make
//                   (percent, 0 to 100);
//   multigpu        the share of the GPU request that multi-GPU tasks make
//                   (percent, 0 to 100);
//   gpuspec         the share of GPU tasks that ask for one GPU model
//                   (percent, 0 to 100): each such task gets one model,
//                   drawn by GPU count among the models with a node that
//                   can hold it.
// The GPU tasks keep their number. Shares are met by resampling each class
// (fractional, one whole GPU, several GPUs) to a new count: a class's
// tasks are first taken in a shuffled order without repeats, then drawn
// again with replacement when more are needed. A class whose share is not
// set keeps its part of the rest as in the base list. With no knob set the
// variant holds the base list's tasks (under new names).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "sim/openb.h"

namespace allot::sim {

struct VariantKnobs {
  double cpu_scale = 1;
  double cpu_only_scale = 1;
  std::optional<double> gpushare;  // percent
  std::optional<double> multigpu;  // percent
  std::optional<double> gpuspec;   // percent
  uint64_t seed = 1;
  std::string name_prefix = "variant";  // tasks are named <prefix>-pod-00000, ...
};

// The variant, or an error naming the knob (its flag) and the fix.
Result<std::vector<OpenbTask>> MakeVariant(const std::vector<OpenbTask>& base,
                                           const OpenbCluster& cluster, const VariantKnobs& knobs);

// Writes `tasks` as an openb task list (name,cpu_milli,memory_mib,num_gpu,
// gpu_milli,gpu_spec), which LoadOpenbTasks and `allot sim pack` read.
Status WriteOpenbTasks(const std::string& path, const std::vector<OpenbTask>& tasks);

// The share of the GPU request by class (fractional, whole, multi-GPU, in
// percent) and the share of GPU tasks with a model, as make-variant sets
// them: what `allot sim make-variant` reports for the file it wrote.
struct VariantMeasure {
  double gpushare = 0;
  double multigpu = 0;
  double gpuspec = 0;
  int64_t cpu_only_tasks = 0;
  int64_t gpu_tasks = 0;
  double mean_cpu_per_gpu_task = 0;  // milli-CPU
};
VariantMeasure MeasureVariant(const std::vector<OpenbTask>& tasks);

}  // namespace allot::sim
