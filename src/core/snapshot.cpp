#include "core/snapshot.h"

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace allot::core {
namespace {

Error At(std::string field, std::string message) {
  return Error{std::move(message), std::move(field)};
}

Status ValidateNodes(const Snapshot& s) {
  std::unordered_set<std::string_view> names;
  names.reserve(s.nodes.size());
  for (const auto& n : s.nodes) {
    const std::string field = "nodes/" + n.name;  // a few nodes: not worth deferring
    if (n.name.empty()) return At("nodes/", "a node has no name: give every node a unique name");
    if (!names.insert(n.name).second) {
      return At(field, "node name '" + n.name + "' is used twice: node names must be unique");
    }
    if (n.cpu_milli < 0 || n.memory_mib < 0) {
      return At(field, "node '" + n.name + "' has negative cpu or memory: use 0 or more");
    }
    std::set<int32_t> indices;
    for (const auto& g : n.gpus) {
      if (g.memory_mib <= 0) {
        return At(field, "node '" + n.name + "' has a GPU with no memory: give gpu_memory > 0");
      }
      if (!indices.insert(g.index).second) {
        return At(field,
                  "node '" + n.name + "' lists GPU index " + std::to_string(g.index) + " twice");
      }
    }
  }
  return Status::Ok();
}

Status ValidateQueueAmounts(const QueueSpec& q) {
  std::string base = "queues/" + q.name + "/";
  for (Resource r : kAllResources) {
    std::string res = ResourceName(r);
    if (q.deserved[r] < 0) {
      return At(base + "deserved",
                "queue '" + q.name + "' has negative deserved " + res + ": quotas are 0 or more");
    }
    if (q.limit[r] < 0) {
      return At(base + "limit",
                "queue '" + q.name + "' has negative limit " + res + ": limits are 0 or more");
    }
    if (q.weight[r] < 0) {
      return At(base + "weight",
                "queue '" + q.name + "' has a negative weight: weights are 0 or more");
    }
    if (q.deserved[r] > q.limit[r]) {
      return At(base + "limit", "queue '" + q.name + "' has deserved " + res + " " +
                                    FormatAmount(r, q.deserved[r]) + " above its limit " +
                                    FormatAmount(r, q.limit[r]) +
                                    ": raise the limit or lower deserved");
    }
  }
  int64_t by_model = 0;
  for (const auto& [model, amount] : q.deserved_gpu_by_model) {
    if (amount < 0) {
      return At(base + "deserved", "queue '" + q.name + "' has negative deserved GPUs of model " +
                                       model + ": quotas are 0 or more");
    }
    by_model += amount;
  }
  for (const auto& [model, amount] : q.limit_gpu_by_model) {
    auto deserved = q.deserved_gpu_by_model.find(model);
    if (amount < 0 || (deserved != q.deserved_gpu_by_model.end() && deserved->second > amount)) {
      return At(base + "limit", "queue '" + q.name + "' has a limit of " +
                                    FormatAmount(Resource::kGpu, amount) + " GPUs of model " +
                                    model +
                                    " below its deserved GPUs of that model (or below 0): raise "
                                    "the limit or lower deserved");
    }
  }
  if (by_model > q.deserved.gpu()) {
    return At(base + "deserved",
              "queue '" + q.name + "' deserves " + FormatAmount(Resource::kGpu, by_model) +
                  " GPUs by model but only " + FormatAmount(Resource::kGpu, q.deserved.gpu()) +
                  " in all: raise deserved gpu to at least the sum");
  }
  return Status::Ok();
}

Status ValidateQueues(const Snapshot& s, std::unordered_map<std::string, bool>& is_leaf) {
  std::unordered_map<std::string, const QueueSpec*> by_name;
  for (const auto& q : s.queues) {
    if (q.name.empty()) return At("queues/", "a queue has no name: give every queue a name");
    if (!by_name.emplace(q.name, &q).second) {
      return At("queues/" + q.name, "queue name '" + q.name + "' is used twice");
    }
    if (auto st = ValidateQueueAmounts(q); !st) return st;
  }
  for (const auto& q : s.queues) is_leaf[q.name] = true;
  for (const auto& q : s.queues) {
    if (q.parent.empty()) continue;
    auto it = by_name.find(q.parent);
    if (it == by_name.end()) {
      return At("queues/" + q.name + "/parent",
                "queue '" + q.name + "' names parent '" + q.parent + "', which is not a queue");
    }
    is_leaf[q.parent] = false;
    // Walk up: a cycle would come back to q.
    const QueueSpec* up = it->second;
    for (size_t steps = 0; up != nullptr; ++steps) {
      if (up->name == q.name || steps > s.queues.size()) {
        return At("queues/" + q.name + "/parent",
                  "queue '" + q.name + "' is its own ancestor: the tree must not loop");
      }
      up = up->parent.empty() ? nullptr : by_name.at(up->parent);
    }
  }
  // Children's deserved must fit within their parent's.
  std::unordered_map<std::string, Resources> child_sum;
  std::unordered_map<std::string, std::map<std::string, int64_t>> child_model_sum;
  for (const auto& q : s.queues) {
    if (q.parent.empty()) continue;
    child_sum[q.parent] += q.deserved;
    for (const auto& [m, a] : q.deserved_gpu_by_model) child_model_sum[q.parent][m] += a;
  }
  for (const auto& q : s.queues) {
    auto it = child_sum.find(q.name);
    if (it == child_sum.end()) continue;
    for (Resource r : kAllResources) {
      if (it->second[r] > q.deserved[r]) {
        return At("queues/" + q.name + "/deserved",
                  "the children of queue '" + q.name + "' deserve " +
                      FormatAmount(r, it->second[r]) + " " + ResourceName(r) + " but '" + q.name +
                      "' deserves only " + FormatAmount(r, q.deserved[r]) +
                      ": raise its deserved to at least the sum or lower the children's");
      }
    }
    for (const auto& [m, a] : child_model_sum[q.name]) {
      auto own = q.deserved_gpu_by_model.find(m);
      if (own != q.deserved_gpu_by_model.end() && a > own->second) {
        return At("queues/" + q.name + "/deserved",
                  "the children of queue '" + q.name + "' deserve " +
                      FormatAmount(Resource::kGpu, a) + " " + m + " GPUs but '" + q.name +
                      "' deserves only " + FormatAmount(Resource::kGpu, own->second));
      }
    }
  }
  return Status::Ok();
}

// The field of workload `name`'s `leaf`, made only for an error: the
// server checks every workload every cycle.
std::string WorkloadField(const std::string& name, const char* leaf) {
  return "workloads/" + name + "/" + leaf;
}

Status ValidateRequest(const Workload& w) {
  const auto& spec = w.spec;
  auto base = [&](const char* leaf) { return WorkloadField(spec.name, leaf); };
  const auto& req = spec.request;
  if (spec.tasks < 1) return At(base("tasks"), "workload '" + spec.name + "' needs tasks >= 1");
  if (spec.min_tasks < 1 || spec.min_tasks > spec.tasks) {
    return At(base("min"), "workload '" + spec.name + "' has min " +
                               std::to_string(spec.min_tasks) + ": use 1 to tasks (" +
                               std::to_string(spec.tasks) + ")");
  }
  if (req.gpu_milli < 0 || req.gpu_memory_mib < 0 || req.cpu_milli < 0 || req.memory_mib < 0) {
    return At(base("gpu"), "workload '" + spec.name + "' asks for a negative amount");
  }
  if (req.gpu_memory_mib > 0 && req.gpu_milli > 0) {
    return At(base("gpu_memory"), "workload '" + spec.name +
                                      "' gives both gpu and gpu_memory: a task asks for whole "
                                      "GPUs, a fraction, or an amount of GPU memory, not two");
  }
  if (req.gpu_milli > kMilliPerGpu && req.gpu_milli % kMilliPerGpu != 0) {
    return At(base("gpu"), "workload '" + spec.name + "' asks for " +
                               FormatAmount(Resource::kGpu, req.gpu_milli) +
                               " GPUs per task: a fraction lives on one GPU, so ask for "
                               "whole GPUs or a fraction below 1");
  }
  if (static_cast<int32_t>(w.tasks.size()) != spec.tasks) {
    return At(base("placement"), "workload '" + spec.name + "' has " +
                                     std::to_string(w.tasks.size()) + " task states for " +
                                     std::to_string(spec.tasks) + " tasks");
  }
  return Status::Ok();
}

struct GpuUse {
  int64_t milli = 0;
  int64_t memory = 0;
};

Status ValidatePlacements(const Snapshot& s) {
  std::vector<std::vector<GpuUse>> gpu_use(s.nodes.size());
  std::vector<int64_t> cpu(s.nodes.size(), 0), mem(s.nodes.size(), 0);
  for (size_t n = 0; n < s.nodes.size(); ++n) gpu_use[n].resize(s.nodes[n].gpus.size());
  for (const auto& w : s.workloads) {
    auto field = [&] { return WorkloadField(w.spec.name, "placement"); };
    const auto& req = w.spec.request;
    for (const auto& t : w.tasks) {
      if (!t.placement) continue;
      const Placement& p = *t.placement;
      if (p.node >= s.nodes.size()) {
        return At(field(),
                  "workload '" + w.spec.name + "' is placed on a node that does not exist");
      }
      const NodeSpec& node = s.nodes[p.node];
      size_t want = req.IsFraction() ? 1 : static_cast<size_t>(req.WholeGpus());
      if (p.gpus.size() != want) {
        return At(field(), "workload '" + w.spec.name + "' has a task on " +
                               std::to_string(p.gpus.size()) + " GPUs of node '" + node.name +
                               "' but asks for " + std::to_string(want) +
                               ": list exactly the GPUs each task uses");
      }
      for (auto here = p.gpus.begin(); here != p.gpus.end(); ++here) {
        const int32_t g = *here;
        if (g < 0 || static_cast<size_t>(g) >= node.gpus.size()) {
          return At(field(), "workload '" + w.spec.name + "' is placed on GPU " +
                                 std::to_string(g) + " of node '" + node.name + "', which has " +
                                 std::to_string(node.gpus.size()) +
                                 " GPUs: use an index from 0 to " +
                                 std::to_string(static_cast<int64_t>(node.gpus.size()) - 1));
        }
        if (std::find(p.gpus.begin(), here, g) != here) {  // a task lists a few GPUs
          return At(field(), "workload '" + w.spec.name + "' lists GPU " + std::to_string(g) +
                                 " twice in one task");
        }
        GpuShare share = ShareOfGpu(req, node.gpus[g].memory_mib);
        auto& use = gpu_use[p.node][g];
        use.milli += share.milli;
        use.memory += share.memory_mib;
        if (use.milli > kMilliPerGpu || use.memory > node.gpus[g].memory_mib) {
          return At(field(), "workload '" + w.spec.name + "' over-allocates GPU " +
                                 std::to_string(g) + " of node '" + node.name +
                                 "': the tasks placed on it ask for more than one GPU; move a "
                                 "task to another GPU");
        }
      }
      cpu[p.node] += req.cpu_milli;
      mem[p.node] += req.memory_mib;
      if (cpu[p.node] > node.cpu_milli) {
        return At(field(), "workload '" + w.spec.name + "' over-allocates the CPU of node '" +
                               node.name + "': move a task or give the node more cpu");
      }
      if (mem[p.node] > node.memory_mib) {
        return At(field(), "workload '" + w.spec.name + "' over-allocates the memory of node '" +
                               node.name + "': move a task or give the node more memory");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateSnapshot(const Snapshot& s) {
  if (auto st = ValidateNodes(s); !st) return st;
  std::unordered_map<std::string, bool> is_leaf;
  if (auto st = ValidateQueues(s, is_leaf); !st) return st;
  std::unordered_set<std::string_view> names;
  names.reserve(s.workloads.size());
  for (const auto& w : s.workloads) {
    auto base = [&](const char* leaf) { return WorkloadField(w.spec.name, leaf); };
    if (w.spec.name.empty()) return At("workloads/", "a workload has no name");
    if (!names.insert(w.spec.name).second) {
      return At(base("name"), "workload name '" + w.spec.name + "' is used twice");
    }
    auto leaf = is_leaf.find(w.spec.queue);
    if (leaf == is_leaf.end()) {
      return At(base("queue"), "workload '" + w.spec.name + "' names queue '" + w.spec.queue +
                                   "', which is not a queue");
    }
    if (!leaf->second) {
      return At(base("queue"), "workload '" + w.spec.name + "' is in queue '" + w.spec.queue +
                                   "', which has children: submit to a leaf queue (a project)");
    }
    if (auto st = ValidateRequest(w); !st) return st;
  }
  return ValidatePlacements(s);
}

}  // namespace allot::core
