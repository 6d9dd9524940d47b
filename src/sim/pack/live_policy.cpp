// live: the scheduler core's own placer, as the server runs it
// (sched::Placer::Default(): its filters and weighted scorers over the
// first Placer::kScoredCandidates feasible nodes, then every GPU model the
// task may use topped up to Placer::kScoredPerModel scored nodes).
// Where `allot` is the simulator's policy built on the core's fragmentation
// model, this one is the live placement itself, so the experiment measures
// what the server would do.
//
// The core sees the run as one cycle's snapshot: the cluster in the seed's
// node order and one workload per task shape of the run's arrivals, with as
// many tasks as arrive of that shape (the fragmentation scorer weighs the
// cycle's shapes by task count, as it would weigh a real queue). Each
// arriving task takes the next task of its shape's workload.
#include <map>
#include <tuple>

#include "core/snapshot.h"
#include "sched/cluster_state.h"
#include "sched/placement/placer.h"
#include "sim/pack/pack_policy.h"

namespace allot::sim {
namespace {

constexpr int64_t kGpuMemoryMib = 32768;  // the experiment does not size GPU memory

using ShapeKey = std::tuple<int64_t, int64_t, int, int64_t, uint32_t>;

ShapeKey KeyOf(const OpenbTask& task) {
  return {task.cpu_milli, task.memory_mib, task.gpus, task.gpu_milli, task.allowed};
}

std::string ModelName(int model) {
  return "model-" + std::to_string(model);
}

class LivePolicy final : public PackPolicy {
 public:
  const char* Name() const override { return "live"; }

  void PrepareRun(const PackCluster& cluster, const std::vector<OpenbTask>& workload) override {
    shapes_.clear();
    snapshot_ = std::make_unique<core::Snapshot>();
    core::Snapshot& snapshot = *snapshot_;
    for (uint32_t n = 0; n < cluster.size(); ++n) {
      const PackNode& node = cluster.node(n);
      core::NodeSpec spec;
      spec.name = node.name;
      spec.cpu_milli = node.cpu_capacity;
      spec.memory_mib = node.memory_free;
      for (int g = 0; g < node.gpu_count; ++g) {
        spec.gpus.push_back(
            {g, node.name + "-gpu" + std::to_string(g), ModelName(node.model), kGpuMemoryMib});
      }
      snapshot.nodes.push_back(std::move(spec));
    }
    core::QueueSpec queue;
    queue.name = "all";
    snapshot.queues.push_back(queue);
    std::map<ShapeKey, int32_t> counts;
    for (const auto& task : workload) ++counts[KeyOf(task)];
    for (const auto& [key, count] : counts) {
      const auto& [cpu, memory, gpus, gpu_milli, allowed] = key;
      core::Workload w;
      w.spec.name = "shape-" + std::to_string(snapshot.workloads.size());
      w.spec.queue = queue.name;
      w.spec.tasks = count;
      w.spec.min_tasks = 1;
      w.spec.request.cpu_milli = cpu;
      w.spec.request.memory_mib = memory;
      w.spec.request.gpu_milli = gpus == 1 ? gpu_milli : gpus * kMilliPerGpu;
      for (int m = 0; m < 32; ++m) {
        if ((allowed >> m) & 1u) w.spec.gpu_models.push_back(ModelName(m));
      }
      w.tasks.resize(static_cast<size_t>(count));
      shapes_[key] = {static_cast<uint32_t>(snapshot.workloads.size()), 0};
      snapshot.workloads.push_back(std::move(w));
    }
    state_ = std::make_unique<sched::ClusterState>(snapshot);  // keeps a pointer to it
  }

  std::optional<PackChoice> Choose(const PackCluster&, const OpenbTask& task, Rng&) override {
    Shape& shape = shapes_.at(KeyOf(task));
    sched::PlacementContext ctx;
    ctx.workload = shape.workload;
    auto placement = placer_.PlaceTask(*state_, ctx, nullptr);
    if (!placement) return std::nullopt;
    state_->Bind({shape.workload, shape.next++}, *placement);
    PackChoice choice;
    choice.node = placement->node;
    for (int32_t g : placement->gpus) choice.gpus.Add(g);
    return choice;
  }

 private:
  struct Shape {
    uint32_t workload = 0;
    uint32_t next = 0;  // the next unplaced task
  };
  sched::Placer placer_ = sched::Placer::Default();
  std::unique_ptr<core::Snapshot> snapshot_;
  std::unique_ptr<sched::ClusterState> state_;
  std::map<ShapeKey, Shape> shapes_;
};

}  // namespace

std::unique_ptr<PackPolicy> MakeLivePolicy() {
  return std::make_unique<LivePolicy>();
}

}  // namespace allot::sim
