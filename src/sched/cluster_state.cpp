#include "sched/cluster_state.h"

#include <algorithm>
#include <atomic>
#include <cassert>

namespace allot::sched {
namespace {

uint64_t Key(TaskRef t) {
  return (static_cast<uint64_t>(t.workload) << 32) | t.task;
}

}  // namespace

namespace {
std::atomic<uint64_t> next_serial{1};
}  // namespace

ClusterState::ClusterState(const core::Snapshot& snapshot)
    : snapshot_(&snapshot), serial_(next_serial.fetch_add(1)) {
  // GPU models, and the ones some queue declares quota for.
  std::unordered_map<std::string, uint16_t> model_ids;
  auto model_id = [&](const std::string& name) {
    auto [it, inserted] = model_ids.emplace(name, static_cast<uint16_t>(models_.size()));
    if (inserted) models_.push_back(name);
    return it->second;
  };
  std::unordered_map<std::string, int32_t> tracked_ids;
  for (const auto& q : snapshot.queues) {
    for (const auto* by_model : {&q.deserved_gpu_by_model, &q.limit_gpu_by_model}) {
      for (const auto& [m, amount] : *by_model) {
        if (tracked_ids.emplace(m, static_cast<int32_t>(tracked_models_.size())).second) {
          tracked_models_.push_back(m);
        }
      }
    }
  }
  model_capacity_.assign(tracked_models_.size(), 0);

  nodes_.resize(snapshot.nodes.size());
  for (size_t n = 0; n < snapshot.nodes.size(); ++n) {
    const auto& spec = snapshot.nodes[n];
    auto& node = nodes_[n];
    node.cpu_free = spec.cpu_milli;
    node.memory_free = spec.memory_mib;
    node.gpus.resize(spec.gpus.size());
    for (size_t g = 0; g < spec.gpus.size(); ++g) {
      auto& gpu = node.gpus[g];
      gpu.memory_total = spec.gpus[g].memory_mib;
      gpu.model = model_id(spec.gpus[g].model);
      auto tracked = tracked_ids.find(spec.gpus[g].model);
      gpu.tracked_model = tracked == tracked_ids.end() ? -1 : tracked->second;
      if (gpu.tracked_model >= 0) model_capacity_[gpu.tracked_model] += core::kMilliPerGpu;
      max_gpu_memory_ = std::max(max_gpu_memory_, gpu.memory_total);
      capacity_[core::Resource::kGpuMemory] += gpu.memory_total;
    }
    node.whole_free = static_cast<int32_t>(spec.gpus.size());
    max_gpus_per_node_ = std::max(max_gpus_per_node_, node.whole_free);
    capacity_[core::Resource::kGpu] += node.whole_free * core::kMilliPerGpu;
    capacity_[core::Resource::kCpu] += spec.cpu_milli;
    capacity_[core::Resource::kMemory] += spec.memory_mib;
  }
  buckets_.assign(static_cast<size_t>(max_gpus_per_node_) + 1, {});
  bucket_position_.assign(nodes_.size(), 0);
  for (uint32_t n = 0; n < nodes_.size(); ++n) {
    auto& bucket = buckets_[nodes_[n].whole_free];
    bucket_position_[n] = static_cast<uint32_t>(bucket.size());
    bucket.push_back(n);
  }
  group_buckets_.assign(node_group_count(), std::vector<std::vector<uint32_t>>(
                                                static_cast<size_t>(max_gpus_per_node_) + 1));
  group_partial_gpus_.assign(node_group_count(), {});
  group_bucket_position_.assign(nodes_.size(), 0);
  node_group_.assign(nodes_.size(), static_cast<uint16_t>(models_.size()));
  for (uint32_t n = 0; n < nodes_.size(); ++n) {
    if (!nodes_[n].gpus.empty()) node_group_[n] = nodes_[n].gpus[0].model;
    auto& bucket = group_buckets_[node_group_[n]][nodes_[n].whole_free];
    group_bucket_position_[n] = static_cast<uint32_t>(bucket.size());
    bucket.push_back(n);
  }

  // The quota tree.
  std::unordered_map<std::string, uint32_t> queue_ids;
  for (uint32_t q = 0; q < snapshot.queues.size(); ++q) queue_ids[snapshot.queues[q].name] = q;
  queues_.resize(snapshot.queues.size());
  size_t tracked = tracked_models_.size();
  for (uint32_t q = 0; q < snapshot.queues.size(); ++q) {
    const auto& spec = snapshot.queues[q];
    auto& queue = queues_[q];
    queue.deserved = spec.deserved;
    queue.limit = spec.limit;
    queue.weight = spec.weight;
    queue.priority = spec.priority;
    queue.model_deserved.assign(tracked, 0);
    for (const auto& [m, amount] : spec.deserved_gpu_by_model) {
      queue.model_deserved[tracked_ids.at(m)] = amount;
    }
    queue.model_limit.assign(tracked, core::kUnlimited);
    for (const auto& [m, amount] : spec.limit_gpu_by_model) {
      queue.model_limit[tracked_ids.at(m)] = amount;
    }
    queue.model_demand.assign(tracked, 0);
    queue.model_fair_share.assign(tracked, 0);
    queue.model_allocated.assign(tracked, 0);
    queue.model_nonpreemptible.assign(tracked, 0);
    if (spec.parent.empty()) {
      top_queues_.push_back(q);
    } else {
      queue.parent = queue_ids.at(spec.parent);
    }
  }
  for (uint32_t q = 0; q < queues_.size(); ++q) {
    if (queues_[q].parent != kNone) {
      queues_[queues_[q].parent].children.push_back(q);
      queues_[queues_[q].parent].leaf = false;
    }
  }
  for (uint32_t q = 0; q < queues_.size(); ++q) {
    int32_t depth = 0;
    for (uint32_t up = queues_[q].parent; up != kNone; up = queues_[up].parent) ++depth;
    queues_[q].depth = depth;
  }

  // Workloads and their current placements.
  workloads_.resize(snapshot.workloads.size());
  size_t total_tasks = 0;
  for (const auto& w : snapshot.workloads) total_tasks += w.tasks.size();
  placements_.resize(total_tasks);
  running_since_.assign(total_tasks, 0);
  uint32_t offset = 0;
  for (uint32_t w = 0; w < snapshot.workloads.size(); ++w) {
    const auto& wl = snapshot.workloads[w];
    auto& state = workloads_[w];
    state.queue = queue_ids.at(wl.spec.queue);
    state.tasks = wl.spec.tasks;
    state.min_tasks = wl.spec.min_tasks;
    state.priority = wl.spec.priority;
    state.preemptible = wl.spec.preemptible;
    state.submitted_at = wl.spec.submitted_at;
    state.first_task = offset;
    offset += static_cast<uint32_t>(wl.tasks.size());
    const auto& req = wl.spec.request;
    core::GpuShare share = core::ShareOfGpu(req, max_gpu_memory_);
    int64_t gpus = req.IsFraction() ? 1 : req.WholeGpus();
    state.task_estimate =
        Resources::Of(req.UsesGpu() ? share.milli * gpus : 0,
                      req.UsesGpu() ? share.memory_mib * gpus : 0, req.cpu_milli, req.memory_mib);
    for (const auto& m : wl.spec.gpu_models) {
      auto it = model_ids.find(m);
      // A model no node has can never be chosen; keep the list non-empty so
      // that "only models that do not exist" still means "nowhere".
      state.allowed_models.push_back(it == model_ids.end() ? UINT16_MAX : it->second);
    }
    for (uint32_t t = 0; t < wl.tasks.size(); ++t) {
      if (wl.tasks[t].placement) {
        Account({w, t}, *wl.tasks[t].placement, +1);
        placements_[state.first_task + t] = wl.tasks[t].placement;
        running_since_[state.first_task + t] = wl.tasks[t].running_since;
      }
    }
  }
}

const std::string& ClusterState::node_label(uint32_t n, const std::string& key) const {
  static const std::string kEmpty;
  const auto& labels = snapshot_->nodes[n].labels;
  auto it = labels.find(key);
  return it == labels.end() ? kEmpty : it->second;
}

int64_t ClusterState::FreeGpuMilli() const {
  int64_t free = capacity_.gpu();
  for (uint32_t q : top_queues_) free -= queues_[q].allocated.gpu();
  return free;
}

Resources ClusterState::UsageOf(TaskRef t, const Placement& p) const {
  const auto& req = spec(t.workload).request;
  Resources usage;
  for (int32_t g : p.gpus) {
    core::GpuShare share = core::ShareOfGpu(req, nodes_[p.node].gpus[g].memory_total);
    usage[core::Resource::kGpu] += share.milli;
    usage[core::Resource::kGpuMemory] += share.memory_mib;
  }
  usage[core::Resource::kCpu] = req.cpu_milli;
  usage[core::Resource::kMemory] = req.memory_mib;
  return usage;
}

namespace {

// Moves node n from one bucket to another in O(1) (the last node of the old
// bucket takes its place); `position` holds each node's index in its bucket.
void MoveBetween(std::vector<uint32_t>& from, std::vector<uint32_t>& to,
                 std::vector<uint32_t>& position, uint32_t n) {
  uint32_t pos = position[n];
  uint32_t last = from.back();
  from[pos] = last;
  position[last] = pos;
  from.pop_back();
  position[n] = static_cast<uint32_t>(to.size());
  to.push_back(n);
}

}  // namespace

void ClusterState::MoveBucket(uint32_t n, int32_t from, int32_t to) {
  if (from == to) return;
  MoveBetween(buckets_[from], buckets_[to], bucket_position_, n);
  auto& group = group_buckets_[node_group_[n]];
  MoveBetween(group[from], group[to], group_bucket_position_, n);
}

void ClusterState::UpdatePartial(uint32_t n, int32_t g, const GpuState& before) {
  auto is_partial = [](const GpuState& s) {
    return !s.IsFree() && s.milli_used < core::kMilliPerGpu;
  };
  if (is_partial(before)) {
    partial_gpus_.erase({core::kMilliPerGpu - before.milli_used, n, g});
    group_partial_gpus_[node_group_[n]].erase({core::kMilliPerGpu - before.milli_used, n, g});
  }
  const GpuState& now = nodes_[n].gpus[g];
  if (is_partial(now)) {
    partial_gpus_.insert({core::kMilliPerGpu - now.milli_used, n, g});
    group_partial_gpus_[node_group_[n]].insert({core::kMilliPerGpu - now.milli_used, n, g});
  }
}

void ClusterState::Account(TaskRef t, const Placement& p, int sign) {
  const auto& wspec = spec(t.workload);
  const auto& req = wspec.request;
  NodeState& node = nodes_[p.node];
  node.cpu_free -= sign * req.cpu_milli;
  node.memory_free -= sign * req.memory_mib;
  int32_t whole_before = node.whole_free;
  Resources usage;
  WorkloadState& wstate = workloads_[t.workload];
  std::vector<std::pair<int32_t, int64_t>> model_usage;
  for (int32_t g : p.gpus) {
    GpuState& gpu = node.gpus[g];
    GpuState before = gpu;
    core::GpuShare share = core::ShareOfGpu(req, gpu.memory_total);
    gpu.milli_used += sign * share.milli;
    gpu.memory_used += sign * share.memory_mib;
    assert(gpu.milli_used >= 0 && gpu.milli_used <= core::kMilliPerGpu);
    if (before.IsFree() != gpu.IsFree()) node.whole_free += gpu.IsFree() ? 1 : -1;
    UpdatePartial(p.node, g, before);
    usage[core::Resource::kGpu] += share.milli;
    usage[core::Resource::kGpuMemory] += share.memory_mib;
    if (gpu.tracked_model >= 0) model_usage.emplace_back(gpu.tracked_model, share.milli);
  }
  usage[core::Resource::kCpu] = req.cpu_milli;
  usage[core::Resource::kMemory] = req.memory_mib;
  MoveBucket(p.node, whole_before, node.whole_free);

  for (uint32_t q = wstate.queue; q != kNone; q = queues_[q].parent) {
    QueueState& queue = queues_[q];
    if (sign > 0) {
      queue.allocated += usage;
      if (!wspec.preemptible) queue.allocated_nonpreemptible += usage;
    } else {
      queue.allocated -= usage;
      if (!wspec.preemptible) queue.allocated_nonpreemptible -= usage;
    }
    for (auto [m, milli] : model_usage) {
      queue.model_allocated[m] += sign * milli;
      if (!wspec.preemptible) queue.model_nonpreemptible[m] += sign * milli;
    }
  }
  wstate.placed += sign;
  if (sign > 0) {
    node.tasks.push_back(t);
  } else {
    auto it = std::find(node.tasks.begin(), node.tasks.end(), t);
    assert(it != node.tasks.end());
    *it = node.tasks.back();
    node.tasks.pop_back();
  }
}

void ClusterState::Bind(TaskRef t, const Placement& p) {
  uint32_t flat = workloads_[t.workload].first_task + t.task;
  assert(!placements_[flat].has_value());
  Account(t, p, +1);
  ++change_count_;
  placements_[flat] = p;
  journal_.push_back({true, t, p, running_since_[flat]});
  running_since_[flat] = now();
}

void ClusterState::Evict(TaskRef t, core::EvictionKind kind, const std::string& reason) {
  uint32_t flat = workloads_[t.workload].first_task + t.task;
  assert(placements_[flat].has_value());
  Placement p = *placements_[flat];
  Account(t, p, -1);
  ++change_count_;
  ++release_count_;
  placements_[flat].reset();
  journal_.push_back({false, t, std::move(p), running_since_[flat]});
  eviction_reasons_[Key(t)] = {kind, reason};
}

void ClusterState::Rollback(size_t mark) {
  while (journal_.size() > mark) {
    JournalEntry entry = std::move(journal_.back());
    journal_.pop_back();
    uint32_t flat = workloads_[entry.task.workload].first_task + entry.task.task;
    ++change_count_;
    if (entry.was_bind) {
      ++release_count_;
      Account(entry.task, entry.placement, -1);
      placements_[flat].reset();
    } else {
      Account(entry.task, entry.placement, +1);
      placements_[flat] = std::move(entry.placement);
    }
    running_since_[flat] = entry.running_since;
  }
}

void ClusterState::DiffInto(core::Plan& plan) const {
  const auto& workloads = snapshot_->workloads;
  for (uint32_t w = 0; w < workloads.size(); ++w) {
    for (uint32_t t = 0; t < workloads[w].tasks.size(); ++t) {
      const auto& before = workloads[w].tasks[t].placement;
      const auto& after = placements_[workloads_[w].first_task + t];
      if (before == after) continue;
      if (before) {
        auto it = eviction_reasons_.find(Key({w, t}));
        if (it == eviction_reasons_.end()) {
          plan.evictions.push_back({{w, t}, "evicted"});
        } else {
          plan.evictions.push_back({{w, t}, it->second.second, it->second.first});
        }
      }
      if (after) plan.binds.push_back({{w, t}, *after});
    }
  }
}

}  // namespace allot::sched
