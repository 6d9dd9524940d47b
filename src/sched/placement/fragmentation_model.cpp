#include "sched/placement/fragmentation_model.h"

#include <algorithm>
#include <array>
#include <cmath>
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
  // The node's GPUs by free milli, most free first, with running sums, so
  // that each typical task costs a short scan.
  std::array<int64_t, 32> free{};
  const int count = std::min(node.gpu_count, static_cast<int>(free.size()));
  int64_t idle = 0;
  for (int g = 0; g < count; ++g) {
    int64_t value = node.gpu_free[g];
    idle += value;
    int at = g;
    for (; at > 0 && free[at - 1] < value; --at) free[at] = free[at - 1];
    free[at] = value;
  }
  if (idle == 0) return 0;
  double fragment = 0;
  for (const auto& shape : mix.shapes()) {
    bool fits_host = node.cpu_free >= shape.cpu_milli &&
                     (!rules.count_memory || node.memory_free >= shape.memory_mib);
    if (shape.gpu_milli == 0) {
      if (rules.cpu_tasks_fragment_all || !fits_host) fragment += shape.weight * double(idle);
      continue;
    }
    bool model_ok =
        shape.allowed_models == 0 || (node.model >= 0 && (shape.allowed_models >> node.model) & 1u);
    if (!model_ok || !fits_host) {
      fragment += shape.weight * double(idle);
      continue;
    }
    // GPUs with at least the task's share free come first; the rest is
    // idle milli the task cannot use.
    int usable = 0;
    int64_t usable_milli = 0;
    int limit = count;
    if (rules.cpu_feeds_copies && shape.cpu_milli > 0) {
      int64_t copies = node.cpu_free / shape.cpu_milli;
      limit = static_cast<int>(std::min<int64_t>(count, copies * shape.gpus));
    }
    while (usable < limit && free[usable] >= shape.gpu_milli) usable_milli += free[usable++];
    fragment += shape.weight * double(usable < shape.gpus ? idle : idle - usable_milli);
  }
  return fragment;
}

double FragmentationScore(double growth) {
  return std::floor(100.0 / (1.0 + std::exp(growth / 1000.0)));
}

}  // namespace allot::sched
