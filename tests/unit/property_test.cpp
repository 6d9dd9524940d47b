// Properties over thousands of random clusters (issue 2):
//  - no GPU, CPU or memory is ever over-allocated;
//  - non-preemptible work stays within deserved GPUs at every level;
//  - non-preemptible work is never evicted;
//  - cycles with no new input settle and then change nothing;
//  - a queue below its fair share with a fitting pending workload gets it
//    within one cycle when preemptible victims exist;
//  - a reclaim never evicts more than the need plus one workload.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/apply_plan.h"
#include "sched/scheduler.h"

namespace allot {
namespace {

using core::Resource;

struct Builder {
  core::Snapshot snap;
  std::vector<std::vector<int64_t>> gpu_used;  // milli per node, GPU
  std::vector<int64_t> cpu_used, mem_used;
  std::map<std::string, int64_t> nonpreemptible;  // GPU milli per queue subtree

  std::vector<std::string> PathOf(const std::string& leaf) const {
    std::vector<std::string> path;
    for (std::string q = leaf; !q.empty();) {
      path.push_back(q);
      std::string parent;
      for (const auto& spec : snap.queues) {
        if (spec.name == q) parent = spec.parent;
      }
      q = parent;
    }
    return path;
  }
  int64_t Deserved(const std::string& q) const {
    for (const auto& spec : snap.queues) {
      if (spec.name == q) return spec.deserved.gpu();
    }
    return 0;
  }

  // Places every task of w somewhere it fits (first fit), or none.
  bool TryPlace(core::Workload& w, std::mt19937_64& rng) {
    auto saved_gpu = gpu_used;
    auto saved_cpu = cpu_used;
    auto saved_mem = mem_used;
    auto undo = [&] {
      gpu_used = saved_gpu;
      cpu_used = saved_cpu;
      mem_used = saved_mem;
      for (auto& t : w.tasks) t.placement.reset();
      return false;
    };
    const auto& req = w.spec.request;
    int64_t gpu_total = 0;
    for (auto& task : w.tasks) {
      bool placed = false;
      size_t start = rng() % snap.nodes.size();
      for (size_t k = 0; k < snap.nodes.size() && !placed; ++k) {
        size_t n = (start + k) % snap.nodes.size();
        const auto& node = snap.nodes[n];
        if (cpu_used[n] + req.cpu_milli > node.cpu_milli) continue;
        if (mem_used[n] + req.memory_mib > node.memory_mib) continue;
        std::vector<int32_t> gpus;
        if (req.IsFraction()) {
          for (size_t g = 0; g < node.gpus.size() && gpus.empty(); ++g) {
            if (gpu_used[n][g] + req.gpu_milli <= 1000) gpus.push_back(static_cast<int32_t>(g));
          }
          if (gpus.empty()) continue;
        } else {
          for (size_t g = 0; g < node.gpus.size(); ++g) {
            if (static_cast<int32_t>(gpus.size()) < req.WholeGpus() && gpu_used[n][g] == 0) {
              gpus.push_back(static_cast<int32_t>(g));
            }
          }
          if (static_cast<int32_t>(gpus.size()) < req.WholeGpus()) continue;
        }
        int64_t share = req.IsFraction() ? req.gpu_milli : 1000;
        for (int32_t g : gpus) gpu_used[n][g] += share;
        gpu_total += share * static_cast<int64_t>(gpus.size());
        cpu_used[n] += req.cpu_milli;
        mem_used[n] += req.memory_mib;
        task.placement = core::Placement{static_cast<uint32_t>(n), gpus};
        task.running_since = w.spec.submitted_at;
        placed = true;
      }
      if (!placed) return undo();
    }
    if (!w.spec.preemptible) {
      for (const auto& q : PathOf(w.spec.queue)) {
        if (nonpreemptible[q] + gpu_total > Deserved(q)) return undo();
      }
      for (const auto& q : PathOf(w.spec.queue)) nonpreemptible[q] += gpu_total;
    }
    return true;
  }

  void AddNode(const std::string& name, int gpus, const std::string& model, int64_t cpu) {
    core::NodeSpec node;
    node.name = name;
    node.cpu_milli = cpu;
    node.memory_mib = 256 * 1024;
    node.labels["zone"] = name.back() % 2 == 0 ? "a" : "b";
    for (int g = 0; g < gpus; ++g)
      node.gpus.push_back({g, name + "-" + std::to_string(g), model, 80 * 1024});
    snap.nodes.push_back(node);
    gpu_used.emplace_back(static_cast<size_t>(gpus), 0);
    cpu_used.push_back(0);
    mem_used.push_back(0);
  }
};

core::Workload RandomWorkload(std::mt19937_64& rng, const std::string& name,
                              const std::string& queue, core::Time now) {
  core::Workload w;
  auto kind = static_cast<core::WorkloadKind>(rng() % 4);
  auto defaults = core::DefaultsFor(kind);
  w.spec.name = name;
  w.spec.queue = queue;
  w.spec.kind = kind;
  w.spec.priority = rng() % 4 == 0 ? static_cast<int32_t>(rng() % 200) : defaults.priority;
  w.spec.preemptible = rng() % 5 == 0 ? !defaults.preemptible : defaults.preemptible;
  static const int64_t kShapes[] = {250, 500, 1000, 1000, 2000, 4000};
  w.spec.request.gpu_milli = kShapes[rng() % 6];
  w.spec.request.cpu_milli = static_cast<int64_t>(rng() % 5) * 1000;
  w.spec.tasks = kind == core::WorkloadKind::kDistributed ? 1 + static_cast<int32_t>(rng() % 4) : 1;
  if (w.spec.request.IsFraction()) w.spec.tasks = 1;
  w.spec.min_tasks = rng() % 3 == 0 ? 1 + static_cast<int32_t>(rng() % w.spec.tasks) : w.spec.tasks;
  w.spec.submitted_at = now - static_cast<core::Time>(rng() % 7'200'000);
  w.tasks.resize(static_cast<size_t>(w.spec.tasks));
  return w;
}

core::Snapshot RandomCluster(std::mt19937_64& rng) {
  Builder b;
  b.snap.now = 1'000'000'000;
  static const int kGpus[] = {1, 2, 4, 8};
  int nodes = 1 + static_cast<int>(rng() % 5);
  int64_t capacity = 0;
  for (int n = 0; n < nodes; ++n) {
    int gpus = kGpus[rng() % 4];
    capacity += gpus * 1000;
    b.AddNode("n" + std::to_string(n), gpus, rng() % 2 ? "A100" : "H100",
              8000 + static_cast<int64_t>(rng() % 56) * 1000);
  }
  // Departments and projects; deserved never above the parent's.
  std::vector<std::string> leaves;
  int depts = 1 + static_cast<int>(rng() % 3);
  int64_t left = capacity;
  for (int d = 0; d < depts; ++d) {
    core::QueueSpec dept;
    dept.name = "d" + std::to_string(d);
    dept.deserved[Resource::kGpu] =
        left > 0 ? static_cast<int64_t>(rng() % (left + 1)) / 500 * 500 : 0;
    left -= dept.deserved.gpu();
    dept.weight = core::Resources::Uniform(static_cast<int64_t>(rng() % 3));
    dept.priority = rng() % 4 == 0 ? 200 : 100;
    b.snap.queues.push_back(dept);
    int projects = static_cast<int>(rng() % 3);
    if (projects == 0) {
      leaves.push_back(dept.name);
      continue;
    }
    int64_t dept_left = dept.deserved.gpu();
    for (int p = 0; p < projects; ++p) {
      core::QueueSpec project;
      project.name = dept.name + "p" + std::to_string(p);
      project.parent = dept.name;
      project.deserved[Resource::kGpu] =
          dept_left > 0 ? static_cast<int64_t>(rng() % (dept_left + 1)) / 250 * 250 : 0;
      dept_left -= project.deserved.gpu();
      project.weight = core::Resources::Uniform(static_cast<int64_t>(rng() % 4));
      if (rng() % 5 == 0) {
        project.limit[Resource::kGpu] =
            std::max(project.deserved.gpu(), static_cast<int64_t>(1 + rng() % 6) * 1000);
      }
      b.snap.queues.push_back(project);
      leaves.push_back(project.name);
    }
  }
  int workloads = static_cast<int>(rng() % 16);
  for (int i = 0; i < workloads; ++i) {
    core::Workload w =
        RandomWorkload(rng, "w" + std::to_string(i), leaves[rng() % leaves.size()], b.snap.now);
    if (rng() % 2 == 0) b.TryPlace(w, rng);
    b.snap.workloads.push_back(std::move(w));
  }
  return b.snap;
}

// Non-preemptible GPU allocation per queue subtree.
std::map<std::string, int64_t> NonPreemptibleGpu(const core::Snapshot& s) {
  std::map<std::string, std::string> parent;
  for (const auto& q : s.queues) parent[q.name] = q.parent;
  std::map<std::string, int64_t> used;
  for (const auto& w : s.workloads) {
    if (w.spec.preemptible) continue;
    int64_t gpu = 0;
    for (const auto& t : w.tasks) {
      if (!t.placement) continue;
      for (size_t g = 0; g < t.placement->gpus.size(); ++g) {
        gpu += core::ShareOfGpu(w.spec.request, 80 * 1024).milli;
      }
    }
    for (std::string q = w.spec.queue; !q.empty(); q = parent[q]) used[q] += gpu;
  }
  return used;
}

TEST(Properties, RandomClustersKeepEveryInvariant) {
  auto scheduler = sched::Scheduler::Create({});
  std::mt19937_64 rng(20261123);
  for (int round = 0; round < 3000; ++round) {
    uint64_t seed = rng();
    std::mt19937_64 local(seed);
    core::Snapshot world = RandomCluster(local);
    ASSERT_TRUE(core::ValidateSnapshot(world).ok())
        << "generator bug, seed " << seed << ": " << core::ValidateSnapshot(world).error().message;
    int quiet_from = -1;
    for (int cycle = 0; cycle < 8; ++cycle) {
      core::Plan plan = (*scheduler)->Cycle(world);
      for (const auto& e : plan.evictions) {
        const auto& w = world.workloads[e.task.workload];
        ASSERT_TRUE(w.tasks[e.task.task].placement.has_value()) << "seed " << seed;
        EXPECT_TRUE(w.spec.preemptible) << "non-preemptible evicted, seed " << seed;
      }
      bool changed = !plan.binds.empty() || !plan.evictions.empty();
      core::ApplyPlan(plan, world);
      world.now += 10 * core::kSecond;
      Status valid = core::ValidateSnapshot(world);
      ASSERT_TRUE(valid.ok()) << "seed " << seed << ": " << valid.error().message;
      for (const auto& [queue, gpu] : NonPreemptibleGpu(world)) {
        int64_t deserved = 0;
        for (const auto& q : world.queues) {
          if (q.name == queue) deserved = q.deserved.gpu();
        }
        ASSERT_LE(gpu, deserved) << "queue " << queue << ", seed " << seed;
      }
      if (changed) {
        ASSERT_EQ(quiet_from, -1) << "changed again after settling (ping-pong), seed " << seed;
      } else if (quiet_from < 0) {
        quiet_from = cycle;
      }
    }
    ASSERT_GE(quiet_from, 0) << "never settled, seed " << seed;
  }
}

TEST(Properties, QueueBelowFairShareReclaimsWithinOneCycleAndNoMoreThanNeeded) {
  auto scheduler = sched::Scheduler::Create({});
  std::mt19937_64 rng(424242);
  for (int round = 0; round < 2000; ++round) {
    uint64_t seed = rng();
    std::mt19937_64 local(seed);
    Builder b;
    b.snap.now = 1'000'000'000;
    int nodes = 1 + static_cast<int>(local() % 4);
    for (int n = 0; n < nodes; ++n) b.AddNode("n" + std::to_string(n), 8, "H100", 128'000);
    int64_t capacity = nodes * 8000;
    int64_t need_gpus = 1 + static_cast<int64_t>(local() % 8);
    core::QueueSpec owner;
    owner.name = "owner";
    owner.deserved[Resource::kGpu] =
        need_gpus * 1000 + static_cast<int64_t>(local() % (capacity - need_gpus * 1000 + 1));
    owner.weight = core::Resources::Uniform(static_cast<int64_t>(local() % 3));
    core::QueueSpec borrower;
    borrower.name = "borrower";
    borrower.weight = core::Resources::Uniform(1 + static_cast<int64_t>(local() % 3));
    b.snap.queues = {owner, borrower};
    // Fill the cluster with the borrower's preemptible work.
    static const int64_t kShapes[] = {250, 500, 1000, 2000, 4000};
    for (int i = 0; i < 200; ++i) {
      core::Workload w;
      w.spec.name = "b" + std::to_string(i);
      w.spec.queue = "borrower";
      w.spec.request.gpu_milli = kShapes[local() % 5];
      w.spec.submitted_at = b.snap.now - static_cast<core::Time>(local() % 3'600'000);
      w.tasks.resize(1);
      if (b.TryPlace(w, local)) b.snap.workloads.push_back(std::move(w));
    }
    core::Workload own;
    own.spec.name = "own";
    own.spec.queue = "owner";
    own.spec.request.gpu_milli = need_gpus * 1000;
    own.spec.submitted_at = b.snap.now;
    own.tasks.resize(1);
    b.snap.workloads.push_back(own);
    ASSERT_TRUE(core::ValidateSnapshot(b.snap).ok()) << "seed " << seed;

    core::Plan plan = (*scheduler)->Cycle(b.snap);
    uint32_t own_index = static_cast<uint32_t>(b.snap.workloads.size() - 1);
    bool bound = false;
    for (const auto& bind : plan.binds) bound = bound || bind.task.workload == own_index;
    ASSERT_TRUE(bound) << "owner not served within one cycle, seed " << seed << ": "
                       << plan.pending_reasons[own_index];
    // Never more than the need plus one workload: on every node, what was
    // evicted less its smallest victim is below what the task asked for.
    std::map<uint32_t, int64_t> evicted_on_node, smallest_on_node;
    for (const auto& e : plan.evictions) {
      const auto& w = b.snap.workloads[e.task.workload];
      uint32_t n = w.tasks[e.task.task].placement->node;
      int64_t gpu = w.spec.request.gpu_milli;
      evicted_on_node[n] += gpu;
      auto [it, inserted] = smallest_on_node.emplace(n, gpu);
      if (!inserted) it->second = std::min(it->second, gpu);
    }
    for (const auto& [n, evicted] : evicted_on_node) {
      EXPECT_LT(evicted - smallest_on_node[n], need_gpus * 1000) << "seed " << seed;
    }
  }
}

// architecture.md §4.4: a queue below its deserved quota gets it back even when
// the borrower holds it only in whole workloads larger than its excess, and
// the evicted workloads cannot come back (no ping-pong).
TEST(Properties, GuaranteeComesBackFromWholeBorrowedWorkloadsWithoutPingPong) {
  auto scheduler = sched::Scheduler::Create({});
  std::mt19937_64 rng(20261204);
  for (int round = 0; round < 1000; ++round) {
    uint64_t seed = rng();
    std::mt19937_64 local(seed);
    Builder b;
    b.snap.now = 1'000'000'000;
    static const int kGpus[] = {2, 4, 8};
    int nodes = 1 + static_cast<int>(local() % 3);
    std::vector<int> sizes;
    for (int n = 0; n < nodes; ++n) sizes.push_back(kGpus[local() % 3]);
    // Largest first, so that each node's workload finds a node of its size.
    std::sort(sizes.rbegin(), sizes.rend());
    int64_t capacity = 0;
    for (int n = 0; n < nodes; ++n) {
      capacity += sizes[static_cast<size_t>(n)] * 1000;
      b.AddNode("n" + std::to_string(n), sizes[static_cast<size_t>(n)], "H100", 128'000);
    }
    // Both queues deserve part of the cluster; the owner's is idle.
    int64_t owner_deserved = (1 + static_cast<int64_t>(local() % (capacity / 1000 - 1))) * 1000;
    core::QueueSpec owner;
    owner.name = "owner";
    owner.deserved[Resource::kGpu] = owner_deserved;
    owner.weight = core::Resources::Uniform(static_cast<int64_t>(local() % 3));
    core::QueueSpec borrower;
    borrower.name = "borrower";
    borrower.deserved[Resource::kGpu] = capacity - owner_deserved;
    borrower.weight = core::Resources::Uniform(1 + static_cast<int64_t>(local() % 3));
    b.snap.queues = {owner, borrower};
    // Each node is held by one borrower workload the size of the node.
    for (int n = 0; n < nodes; ++n) {
      core::Workload w;
      w.spec.name = "b" + std::to_string(n);
      w.spec.queue = "borrower";
      w.spec.request.gpu_milli =
          static_cast<int64_t>(b.snap.nodes[static_cast<size_t>(n)].gpus.size()) * 1000;
      w.spec.submitted_at = b.snap.now - static_cast<core::Time>(local() % 3'600'000);
      w.tasks.resize(1);
      ASSERT_TRUE(b.TryPlace(w, local)) << "seed " << seed;
      b.snap.workloads.push_back(std::move(w));
    }
    int64_t need = 1 + static_cast<int64_t>(local() % static_cast<uint64_t>(owner_deserved / 1000));
    need = std::min<int64_t>(need, 8);
    core::Workload own;
    own.spec.name = "own";
    own.spec.queue = "owner";
    own.spec.request.gpu_milli = std::min<int64_t>(need, b.snap.nodes[0].gpus.size()) * 1000;
    own.spec.submitted_at = b.snap.now;
    own.tasks.resize(1);
    b.snap.workloads.push_back(own);
    ASSERT_TRUE(core::ValidateSnapshot(b.snap).ok()) << "seed " << seed;
    uint32_t own_index = static_cast<uint32_t>(b.snap.workloads.size() - 1);

    int quiet_from = -1;
    for (int cycle = 0; cycle < 6; ++cycle) {
      core::Plan plan = (*scheduler)->Cycle(b.snap);
      bool changed = !plan.binds.empty() || !plan.evictions.empty();
      if (cycle == 0) {
        bool bound = false;
        for (const auto& bind : plan.binds) bound = bound || bind.task.workload == own_index;
        ASSERT_TRUE(bound) << "owner not served within one cycle, seed " << seed << ": "
                           << plan.pending_reasons[own_index];
        EXPECT_EQ(plan.evictions.size(), 1u) << "one whole workload suffices, seed " << seed;
      }
      core::ApplyPlan(plan, b.snap);
      b.snap.now += 10 * core::kSecond;
      if (changed) {
        ASSERT_EQ(quiet_from, -1) << "changed again after settling (ping-pong), seed " << seed;
      } else if (quiet_from < 0) {
        quiet_from = cycle;
      }
    }
    ASSERT_GE(quiet_from, 0) << "never settled, seed " << seed;
    EXPECT_TRUE(b.snap.workloads[own_index].tasks[0].placement.has_value()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace allot
