#include <algorithm>
#include <map>
#include <tuple>

#include "sched/placement/gpu_picker.h"
#include "sched/placement/placer.h"
#include "sched/placement/scorers.h"

namespace allot::sched {
namespace {

// The share of all tasks the typical shapes cover (as in the trace
// simulator, docs/simulation.md).
constexpr double kShapeCoverage = 0.95;

TaskShape ShapeOf(const ClusterState& state, uint32_t w) {
  const core::TaskRequest& request = state.spec(w).request;
  const WorkloadState& workload = state.workload(w);
  TaskShape shape;
  shape.cpu_milli = request.cpu_milli;
  shape.memory_mib = request.memory_mib;
  if (request.IsFraction()) {
    shape.gpus = 1;
    shape.gpu_milli = workload.task_estimate[core::Resource::kGpu];
  } else {
    shape.gpus = request.WholeGpus();
    shape.gpu_milli = shape.gpus > 0 ? core::kMilliPerGpu : 0;
  }
  for (uint16_t model : workload.allowed_models) {
    if (model < 32) shape.allowed_models |= 1u << model;
  }
  shape.weight = workload.tasks;
  return shape;
}

ShapeMix CycleShapes(const ClusterState& state) {
  using Key = std::tuple<int64_t, int64_t, int32_t, int64_t, uint32_t>;
  std::map<Key, TaskShape> counted;
  for (uint32_t w = 0; w < state.workload_count(); ++w) {
    TaskShape shape = ShapeOf(state, w);
    Key key{shape.cpu_milli, shape.memory_mib, shape.gpus, shape.gpu_milli, shape.allowed_models};
    auto [it, added] = counted.emplace(key, shape);
    if (!added) it->second.weight += shape.weight;
  }
  std::vector<TaskShape> shapes;
  for (auto& [key, shape] : counted) shapes.push_back(shape);
  return ShapeMix::FromCounts(std::move(shapes), kShapeCoverage);
}

// CycleShapes, made once per state and thread: the fragmentation score and
// the CPU-feed tie-breaker measure against the same typical tasks.
const ShapeMix& CycleShapesOf(const ClusterState& state) {
  thread_local uint64_t serial = 0;  // ClusterState serials start at 1
  thread_local ShapeMix mix;
  if (serial != state.serial()) {
    mix = CycleShapes(state);
    serial = state.serial();
  }
  return mix;
}

}  // namespace

FragmentationMemo& FragmentationScorer::MemoFor(const ClusterState& state) const {
  if (memo_serial_ != state.serial()) {
    memo_ = FragmentationMemo(CycleShapesOf(state), rules_);
    memo_serial_ = state.serial();
  }
  return memo_;
}

int64_t FragmentationScorer::Score(const ClusterState& state, const PlacementContext& ctx,
                                   uint32_t n) const {
  const core::TaskRequest& request = state.spec(ctx.workload).request;
  if (request.gpu_milli == 0 && request.gpu_memory_mib == 0) return 0;
  std::optional<double> growth = Growth(state, ctx, n);
  return growth ? static_cast<int64_t>(FragmentationScore(*growth)) : 0;
}

std::optional<double> FragmentationScorer::Growth(const ClusterState& state,
                                                  const PlacementContext& ctx, uint32_t n) const {
  const core::TaskRequest& request = state.spec(ctx.workload).request;
  std::optional<std::vector<int32_t>> gpus = Placer::GpusOn(state, ctx, n);
  if (!gpus) return std::nullopt;
  const NodeState& node = state.node(n);
  std::vector<int64_t>& free = free_scratch_;
  free.resize(node.gpus.size());
  for (size_t g = 0; g < node.gpus.size(); ++g) {
    free[g] = core::kMilliPerGpu - node.gpus[g].milli_used;
  }
  NodeFree before{node.gpus.empty() ? -1 : static_cast<int>(node.gpus[0].model), node.cpu_free,
                  node.memory_free, free.data(), static_cast<int>(free.size())};
  FragmentationMemo& memo = MemoFor(state);
  double fragmentation_before = memo.Of(before);
  for (int32_t g : *gpus) {
    const GpuState& gpu = node.gpus[static_cast<size_t>(g)];
    free[static_cast<size_t>(g)] -= request.IsFraction()
                                        ? core::ShareOfGpu(request, gpu.memory_total).milli
                                        : core::kMilliPerGpu;
  }
  NodeFree after = before;
  after.cpu_free -= request.cpu_milli;
  after.memory_free -= request.memory_mib;
  return memo.Of(after) - fragmentation_before;
}

}  // namespace allot::sched
