#include "sched/placement/fragmentation_model.h"

#include <algorithm>
#include <tuple>

namespace allot::sched {

ShapeMix ShapeMix::FromCounts(std::vector<TaskShape> counted, double coverage) {
  double total = 0;
  for (const auto& shape : counted) total += shape.weight;
  ShapeMix mix;
  if (total <= 0) return mix;
  auto key = [](const TaskShape& s) {
    return std::make_tuple(s.weight, s.cpu_milli, s.gpu_milli, s.gpus, s.allowed_models,
                           s.memory_mib);
  };
  std::sort(counted.begin(), counted.end(),
            [&](const TaskShape& a, const TaskShape& b) { return key(a) > key(b); });
  double covered = 0;
  for (auto& shape : counted) {
    if (covered >= coverage * total) break;
    covered += shape.weight;
    mix.shapes_.push_back(shape);
  }
  for (auto& shape : mix.shapes_) shape.weight /= covered;
  return mix;
}

double NodeFragmentation(const NodeFree& node, const ShapeMix& mix,
                         const FragmentationRules& rules) {
  int64_t idle = 0;
  for (int g = 0; g < node.gpu_count; ++g) idle += node.gpu_free[g];
  if (idle == 0) return 0;
  double fragment = 0;
  for (const auto& shape : mix.shapes()) {
    bool fits_host = node.cpu_free >= shape.cpu_milli &&
                     (!rules.count_memory || node.memory_free >= shape.memory_mib);
    if (shape.gpu_milli == 0) {
      if (rules.cpu_tasks_fragment_all || !fits_host) fragment += shape.weight * double(idle);
      continue;
    }
    bool model_ok = shape.allowed_models == 0 ||
                    (node.model >= 0 && (shape.allowed_models >> node.model) & 1u);
    int32_t usable_gpus = 0;
    int64_t too_small = 0;  // idle milli on GPUs with less free than the task needs
    for (int g = 0; g < node.gpu_count; ++g) {
      if (node.gpu_free[g] >= shape.gpu_milli) {
        ++usable_gpus;
      } else {
        too_small += node.gpu_free[g];
      }
    }
    if (!model_ok || !fits_host || usable_gpus < shape.gpus) {
      fragment += shape.weight * double(idle);
    } else {
      fragment += shape.weight * double(too_small);
    }
  }
  return fragment;
}

}  // namespace allot::sched
