#include "server/cluster_status.h"

#include <set>
#include <utility>

namespace allot::server {
namespace {

using nlohmann::json;
using wire::WorkloadResource;
using wire::WorkloadStatus;

const std::string kDepartmentPrefix = "department/";

double Gpus(int64_t milli) {
  return static_cast<double>(milli) / static_cast<double>(core::kMilliPerGpu);
}

// Allocated GPUs (milli) and pending workloads per queue, by GPU model, and
// per (pool, model); counted on the leaves first.
struct Tally {
  std::vector<int64_t> allocated;
  std::vector<int64_t> pending;
  std::vector<std::map<std::string, int64_t>> allocated_by_model;
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> by_pool_model;
  std::map<std::string, int64_t> by_status;
  int64_t allocated_total = 0;
  int64_t gpus = 0;
};

// Adds what one placed task holds to its queue and to the pools' counts.
void CountTask(const StatusInput& in, const WorkloadResource& workload,
               const wire::TaskAssignment& task, size_t queue, bool per_model, Tally& tally) {
  int64_t milli = workload.spec.request.gpu_milli;
  auto node = in.node_index.find(task.node);
  if (workload.spec.request.gpu_memory_mib > 0 && !task.gpus.empty() &&
      node != in.node_index.end()) {
    // A memory-sized fraction counts as the share of the GPU it takes.
    const auto& gpu = in.snapshot.nodes[node->second].gpus[static_cast<size_t>(task.gpus[0])];
    milli = core::ShareOfGpu(workload.spec.request, gpu.memory_mib).milli;
  }
  tally.allocated[queue] += milli;
  tally.allocated_total += milli;
  if (node == in.node_index.end()) return;
  const core::NodeSpec& spec = in.snapshot.nodes[node->second];
  int64_t per_gpu = task.gpus.size() > 1 ? core::kMilliPerGpu : milli;
  for (int32_t gpu : task.gpus) {
    if (gpu < 0 || static_cast<size_t>(gpu) >= spec.gpus.size()) continue;
    const std::string& model = spec.gpus[static_cast<size_t>(gpu)].model;
    tally.by_pool_model[{spec.pool, model}].second += per_gpu;
    if (per_model) tally.allocated_by_model[queue][model] += per_gpu;
  }
}

// `per_model`: count allocations per GPU model too.
Tally Count(const StatusInput& in, const std::vector<WorkloadResource>& after, bool per_model) {
  const core::Snapshot& snapshot = in.snapshot;
  Tally tally;
  size_t queues = snapshot.queues.size();
  tally.allocated.assign(queues, 0);
  tally.pending.assign(queues, 0);
  tally.allocated_by_model.resize(queues);
  for (const auto& node : snapshot.nodes) {
    tally.gpus += static_cast<int64_t>(node.gpus.size());
    for (const auto& gpu : node.gpus) ++tally.by_pool_model[{node.pool, gpu.model}].first;
  }
  std::map<std::string, size_t> queue_index;
  for (size_t q = 0; q < queues; ++q) queue_index[snapshot.queues[q].name] = q;
  for (const WorkloadResource& workload : after) {
    ++tally.by_status[wire::StatusName(workload.status)];
    auto queue = queue_index.find(workload.spec.queue);
    if (queue == queue_index.end()) continue;
    if (workload.status != WorkloadStatus::kRunning) ++tally.pending[queue->second];
    for (const auto& task : workload.assignments) {
      if (!task.node.empty()) CountTask(in, workload, task, queue->second, per_model, tally);
    }
  }
  // A department holds what the projects of its whole subtree hold.
  for (size_t q = 0; q < queues; ++q) {
    if (!in.queue_is_project[q]) continue;
    for (auto up = queue_index.find(snapshot.queues[q].parent); up != queue_index.end();
         up = queue_index.find(snapshot.queues[up->second].parent)) {
      tally.allocated[up->second] += tally.allocated[q];
      tally.pending[up->second] += tally.pending[q];
      for (const auto& [model, milli] : tally.allocated_by_model[q]) {
        tally.allocated_by_model[up->second][model] += milli;
      }
    }
  }
  return tally;
}

// Per model that some queue declares quota for: deserved, fair share and
// allocated GPUs of queue `q`.
json ModelFigures(const core::Snapshot& snapshot, const core::Plan& plan, const Tally& tally,
                  size_t q, const std::set<std::string>& models) {
  json out = json::object();
  const core::QueueSpec& queue = snapshot.queues[q];
  for (const std::string& model : models) {
    auto deserved = queue.deserved_gpu_by_model.find(model);
    auto allocated = tally.allocated_by_model[q].find(model);
    int64_t fair_share = 0;
    if (q < plan.fair_share_by_model.size()) {
      for (const auto& [name, milli] : plan.fair_share_by_model[q]) {
        if (name == model) fair_share = milli;
      }
    }
    out[model] = {
        {"deserved", Gpus(deserved == queue.deserved_gpu_by_model.end() ? 0 : deserved->second)},
        {"fair_share", Gpus(fair_share)},
        {"allocated",
         Gpus(allocated == tally.allocated_by_model[q].end() ? 0 : allocated->second)}};
  }
  return out;
}

}  // namespace

json ClusterStatus(const StatusInput& in, const core::Plan& plan,
                   const std::vector<WorkloadResource>& after) {
  const core::Snapshot& snapshot = in.snapshot;
  std::set<std::string> models;  // with per-model quota somewhere
  for (const auto& queue : snapshot.queues) {
    for (const auto& [model, milli] : queue.deserved_gpu_by_model) models.insert(model);
    for (const auto& [model, milli] : queue.limit_gpu_by_model) models.insert(model);
  }
  Tally tally = Count(in, after, !models.empty());
  json queues = json::array();
  for (size_t q = 0; q < snapshot.queues.size(); ++q) {
    const core::QueueSpec& queue = snapshot.queues[q];
    bool is_project = in.queue_is_project[q];
    json item = {
        {"name", is_project ? queue.name : queue.name.substr(kDepartmentPrefix.size())},
        {"type", is_project ? "project" : "department"},
        {"deserved", Gpus(queue.deserved[core::Resource::kGpu])},
        {"fair_share",
         q < plan.fair_share.size() ? Gpus(plan.fair_share[q][core::Resource::kGpu]) : 0.0},
        {"allocated", Gpus(tally.allocated[q])},
        {"pending", tally.pending[q]}};
    if (is_project) {
      item["department"] = queue.parent.substr(kDepartmentPrefix.size());
    } else if (!queue.parent.empty()) {
      item["parent"] = queue.parent.substr(kDepartmentPrefix.size());
    }
    if (!models.empty()) item["gpu_models"] = ModelFigures(snapshot, plan, tally, q, models);
    queues.push_back(std::move(item));
  }
  json pools = json::array();
  for (const auto& [key, counts] : tally.by_pool_model) {
    pools.push_back({{"pool", key.first},
                     {"model", key.second},
                     {"gpus", counts.first},
                     {"allocated", Gpus(counts.second)}});
  }
  return {{"name", "cluster"},
          {"nodes", snapshot.nodes.size()},
          {"gpus", tally.gpus},
          {"gpus_allocated", Gpus(tally.allocated_total)},
          {"workloads", tally.by_status},
          {"queues", queues},
          {"pools", pools}};
}

}  // namespace allot::server
