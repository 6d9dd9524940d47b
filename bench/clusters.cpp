#include "bench/clusters.h"

#include <random>
#include <string>

namespace allot::bench {
namespace {

core::Workload MakeWorkload(std::string name, std::string queue, core::WorkloadKind kind,
                            int32_t tasks, int64_t gpu_milli, core::Time now) {
  core::Workload w;
  w.spec.name = std::move(name);
  w.spec.queue = std::move(queue);
  w.spec.kind = kind;
  auto defaults = core::DefaultsFor(kind);
  w.spec.priority = defaults.priority;
  w.spec.preemptible = defaults.preemptible;
  w.spec.tasks = tasks;
  w.spec.min_tasks = tasks;
  w.spec.request.gpu_milli = gpu_milli;
  w.spec.request.cpu_milli = 1000;
  w.spec.request.memory_mib = 4096;
  w.spec.submitted_at = now;
  w.tasks.resize(static_cast<size_t>(tasks));
  return w;
}

}  // namespace

void AddGpuNodes(core::Snapshot& snap, int64_t count) {
  for (int64_t n = 0; n < count; ++n) {
    core::NodeSpec node;
    node.name = "node-" + std::to_string(n);
    node.cpu_milli = 128'000;
    node.memory_mib = 1024 * 1024;
    node.labels["rack"] = "rack-" + std::to_string(n / 16);
    for (int32_t g = 0; g < 8; ++g) {
      node.gpus.push_back({g, node.name + "-gpu" + std::to_string(g), "H100", 80 * 1024});
    }
    snap.nodes.push_back(std::move(node));
  }
}

core::Snapshot ReclaimCluster(int64_t nodes) {
  core::Snapshot snap;
  snap.now = 1'000'000'000;
  AddGpuNodes(snap, nodes);
  core::QueueSpec q0;
  q0.name = "queue-0";
  q0.weight = core::Resources{};
  core::QueueSpec q1;
  q1.name = "queue-1";
  q1.deserved[core::Resource::kGpu] = nodes * 8 * core::kMilliPerGpu;
  snap.queues = {q0, q1};
  for (int64_t n = 0; n < nodes; ++n) {
    for (int32_t g = 0; g < 8; ++g) {
      auto w = MakeWorkload("train-" + std::to_string(n) + "-" + std::to_string(g), "queue-0",
                            core::WorkloadKind::kTraining, 1, core::kMilliPerGpu,
                            snap.now - 3600'000 + n * 8 + g);
      w.tasks[0].placement = core::Placement{static_cast<uint32_t>(n), {g}};
      w.tasks[0].running_since = w.spec.submitted_at;
      snap.workloads.push_back(std::move(w));
    }
  }
  auto gang = MakeWorkload("gang", "queue-1", core::WorkloadKind::kDistributed,
                           static_cast<int32_t>(std::max<int64_t>(1, nodes / 10)),
                           8 * core::kMilliPerGpu, snap.now);
  snap.workloads.push_back(std::move(gang));
  return snap;
}

core::Snapshot BusyCluster(int64_t nodes, int64_t pending, uint64_t seed) {
  core::Snapshot snap;
  snap.now = 1'000'000'000;
  AddGpuNodes(snap, nodes);
  int64_t capacity = nodes * 8 * core::kMilliPerGpu;
  for (int d = 0; d < 10; ++d) {
    core::QueueSpec dept;
    dept.name = "dept-" + std::to_string(d);
    dept.deserved[core::Resource::kGpu] = capacity / 10;
    snap.queues.push_back(dept);
    for (int p = 0; p < 10; ++p) {
      core::QueueSpec project;
      project.name = dept.name + "-proj-" + std::to_string(p);
      project.parent = dept.name;
      project.deserved[core::Resource::kGpu] = capacity / 100;
      project.weight = core::Resources::Uniform(1 + p % 3);
      snap.queues.push_back(project);
    }
  }
  std::mt19937_64 rng(seed);
  auto project_of = [&](uint64_t r) {
    return "dept-" + std::to_string(r % 10) + "-proj-" + std::to_string((r / 10) % 10);
  };
  int64_t id = 0;
  // Fill each node: one 16-GPU gang spans two nodes, so nodes come in pairs.
  for (int64_t n = 0; n + 1 < nodes; n += 2) {
    uint64_t shape = rng() % 4;
    std::string queue = project_of(rng());
    core::Time age = snap.now - static_cast<core::Time>(rng() % 3'600'000);
    auto place = [&](core::Workload& w, uint32_t task, int64_t node, std::vector<int32_t> gpus) {
      w.tasks[task].placement = core::Placement{static_cast<uint32_t>(node), std::move(gpus)};
      w.tasks[task].running_since = age;
    };
    if (shape == 0) {  // a 16-GPU gang: 2 tasks x 8 GPUs
      auto w = MakeWorkload("run-" + std::to_string(id++), queue, core::WorkloadKind::kDistributed,
                            2, 8 * core::kMilliPerGpu, age);
      place(w, 0, n, {0, 1, 2, 3, 4, 5, 6, 7});
      place(w, 1, n + 1, {0, 1, 2, 3, 4, 5, 6, 7});
      snap.workloads.push_back(std::move(w));
      continue;
    }
    for (int64_t node = n; node <= n + 1; ++node) {
      for (int32_t g = 0; g < 8;) {
        if (shape == 1 && g + 4 <= 8) {  // 4-GPU gangs: 1 task x 4 GPUs
          auto w = MakeWorkload("run-" + std::to_string(id++), project_of(rng()),
                                core::WorkloadKind::kDistributed, 1, 4 * core::kMilliPerGpu, age);
          place(w, 0, node, {g, g + 1, g + 2, g + 3});
          snap.workloads.push_back(std::move(w));
          g += 4;
        } else if (shape == 2) {  // two half-GPU fractions
          for (int k = 0; k < 2; ++k) {
            auto w = MakeWorkload("run-" + std::to_string(id++), project_of(rng()),
                                  core::WorkloadKind::kInteractive, 1, 500, age);
            w.spec.preemptible = true;  // interactive over quota would be refused
            place(w, 0, node, {g});
            snap.workloads.push_back(std::move(w));
          }
          g += 1;
        } else {
          auto w = MakeWorkload("run-" + std::to_string(id++), project_of(rng()),
                                core::WorkloadKind::kTraining, 1, core::kMilliPerGpu, age);
          place(w, 0, node, {g});
          snap.workloads.push_back(std::move(w));
          g += 1;
        }
      }
    }
  }
  for (int64_t p = 0; p < pending; ++p) {
    uint64_t shape = rng() % 10;
    int32_t tasks = 1;
    int64_t gpu = core::kMilliPerGpu;
    core::WorkloadKind kind = core::WorkloadKind::kTraining;
    if (shape == 0) {
      tasks = 2;
      gpu = 8 * core::kMilliPerGpu;
      kind = core::WorkloadKind::kDistributed;
    } else if (shape == 1) {
      gpu = 4 * core::kMilliPerGpu;
      kind = core::WorkloadKind::kDistributed;
    } else if (shape < 5) {
      gpu = 250 * static_cast<int64_t>(1 + rng() % 3);
    }
    snap.workloads.push_back(MakeWorkload("pend-" + std::to_string(p), project_of(rng()), kind,
                                          tasks, gpu,
                                          snap.now - static_cast<core::Time>(rng() % 600'000)));
  }
  return snap;
}

core::Snapshot EmptyClusterWithTasks(int64_t nodes, int64_t tasks, uint64_t seed) {
  core::Snapshot snap;
  snap.now = 1'000'000'000;
  AddGpuNodes(snap, nodes);
  core::QueueSpec q;
  q.name = "team";
  q.deserved[core::Resource::kGpu] = nodes * 8 * core::kMilliPerGpu;
  snap.queues = {q};
  std::mt19937_64 rng(seed);
  for (int64_t t = 0; t < tasks; ++t) {
    int64_t gpu = rng() % 2 == 0 ? core::kMilliPerGpu : 250 * static_cast<int64_t>(1 + rng() % 3);
    snap.workloads.push_back(MakeWorkload("task-" + std::to_string(t), "team",
                                          core::WorkloadKind::kTraining, 1, gpu, snap.now - t));
  }
  return snap;
}

}  // namespace allot::bench
