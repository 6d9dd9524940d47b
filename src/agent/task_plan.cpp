#include "agent/task_plan.h"

#include <algorithm>

namespace allot::agent {

std::string LaunchSpec::Key() const {
  return workload + "." + std::to_string(task) + "." + std::to_string(attempt);
}

int MasterPort(const std::string& workload) {
  uint32_t hash = 2166136261u;  // FNV-1a
  for (char c : workload) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619u;
  }
  return 20000 + static_cast<int>(hash % 10000);
}

std::vector<LaunchSpec> TasksForNode(const wire::WorkloadResource& w, const std::string& node,
                                     const std::map<std::string, PeerNode>& peers,
                                     std::string* missing_peer) {
  std::vector<LaunchSpec> out;
  if (w.status != wire::WorkloadStatus::kRunning) return out;
  // The placed tasks in index order give ranks; distinct nodes in order of
  // their first task give node ranks.
  std::vector<size_t> placed;
  std::vector<std::string> node_order;
  std::map<std::string, int> tasks_on_node;
  for (size_t t = 0; t < w.assignments.size(); ++t) {
    const std::string& on = w.assignments[t].node;
    if (on.empty()) continue;
    placed.push_back(t);
    if (tasks_on_node[on]++ == 0) node_order.push_back(on);
  }
  bool mine = std::any_of(placed.begin(), placed.end(),
                          [&](size_t t) { return w.assignments[t].node == node; });
  if (!mine) return out;
  for (const std::string& peer : node_order) {
    if (!peers.count(peer)) {
      if (missing_peer) *missing_peer = peer;
      return out;
    }
  }
  const PeerNode& self = peers.at(node);
  bool several = placed.size() > 1;
  std::string hostfile;
  for (const std::string& peer : node_order) {
    hostfile += peers.at(peer).address + " slots=" + std::to_string(tasks_on_node[peer]) + "\n";
  }
  std::map<std::string, int> local_seen;
  for (size_t rank = 0; rank < placed.size(); ++rank) {
    size_t t = placed[rank];
    const wire::TaskAssignment& assigned = w.assignments[t];
    int local_rank = local_seen[assigned.node]++;
    if (assigned.node != node || assigned.attempt <= 0) continue;
    LaunchSpec spec;
    spec.node = node;
    spec.workload = w.spec.name;
    spec.project = w.spec.queue;
    spec.task = static_cast<int32_t>(t);
    spec.attempt = assigned.attempt;
    spec.command = w.command;
    spec.cpu_milli = w.spec.request.cpu_milli;
    spec.memory_mib = w.spec.request.memory_mib;
    spec.grace_period_s = w.grace_period_s;
    spec.not_before_ms = assigned.not_before_ms;
    spec.owner = w.owner;
    spec.runtime = w.runtime;
    spec.env = w.env;
    auto& env = spec.env;
    if (w.workspace.IsSet()) {
      spec.workspace_port = w.workspace.port;
      env["PORT"] = std::to_string(w.workspace.port);
      if (w.workspace.jupyter) {
        spec.command = JupyterCommand(w.spec.queue, w.spec.name, w.workspace.port);
      }
    }
    if (w.replica.IsSet()) {
      spec.serve_port = w.replica.port;
      spec.ready_path = w.replica.ready_path;
      if (!w.runtime.image.empty()) {
        // A container keeps the service's port, in a network of its own.
        spec.private_network = true;
        spec.listen_port = w.replica.port;
        env["PORT"] = std::to_string(w.replica.port);
      }
      env["ALLOT_SERVICE"] = w.replica.service;
    }
    env["ALLOT_WORKLOAD"] = w.spec.name;
    env["ALLOT_PROJECT"] = w.spec.queue;
    env["ALLOT_TASK"] = std::to_string(t);
    env["ALLOT_ATTEMPT"] = std::to_string(assigned.attempt);
    env["ALLOT_NODE"] = node;
    std::string visible;
    for (int32_t position : assigned.gpus) {
      if (position < 0 || static_cast<size_t>(position) >= self.gpus.size()) continue;
      const core::GpuSpec& gpu = self.gpus[static_cast<size_t>(position)];
      spec.gpu_uuids.push_back(gpu.uuid);
      spec.gpu_positions.push_back(position);
      visible += (visible.empty() ? "" : ",") + gpu.uuid;
    }
    // Empty hides every GPU from work that asked for none.
    env["CUDA_VISIBLE_DEVICES"] = visible;
    if (w.spec.request.IsFraction() && !assigned.gpus.empty() &&
        static_cast<size_t>(assigned.gpus[0]) < self.gpus.size()) {
      // The GPU interposer (liballot-cuda.so, which the task shim preloads)
      // enforces these in the task's processes.
      const core::GpuSpec& gpu = self.gpus[static_cast<size_t>(assigned.gpus[0])];
      core::GpuShare share = core::ShareOfGpu(w.spec.request, gpu.memory_mib);
      int64_t percent = std::clamp<int64_t>((share.milli + 9) / 10, 1, 100);
      env["ALLOT_GPU_MEMORY_LIMIT"] = std::to_string(share.memory_mib * 1024 * 1024);
      // A dynamic fraction: its request is guaranteed, up to its limit is
      // lent while the GPU's other tenants leave it free.
      core::TaskRequest up_to = w.spec.request;
      if (w.gpu_milli_limit > 0) up_to.gpu_milli = w.gpu_milli_limit;
      if (w.gpu_memory_limit_mib > 0) up_to.gpu_memory_mib = w.gpu_memory_limit_mib;
      if (!(up_to == w.spec.request)) {
        core::GpuShare limit = core::ShareOfGpu(up_to, gpu.memory_mib);
        env["ALLOT_GPU_MEMORY_REQUEST"] = std::to_string(share.memory_mib * 1024 * 1024);
        env["ALLOT_GPU_MEMORY_LIMIT"] = std::to_string(limit.memory_mib * 1024 * 1024);
      }
      env["ALLOT_GPU_COMPUTE_SHARE"] = std::to_string(percent);
      env["ALLOT_GPU_SHARE_MODE"] = "fair";
      // The task's processes share one limit (its attempts do not).
      env["ALLOT_GPU_TENANT"] =
          w.spec.name + "/" + std::to_string(t) + "/" + std::to_string(assigned.attempt);
    }
    if (several) {
      // torchrun's convention: one process per task.
      const std::string& master = w.assignments[placed[0]].node;
      env["MASTER_ADDR"] = peers.at(master).address;
      if (!w.env.count("MASTER_PORT")) env["MASTER_PORT"] = std::to_string(MasterPort(w.spec.name));
      env["WORLD_SIZE"] = std::to_string(placed.size());
      env["RANK"] = std::to_string(rank);
      env["LOCAL_RANK"] = std::to_string(local_rank);
      env["LOCAL_WORLD_SIZE"] = std::to_string(tasks_on_node[node]);
      auto node_rank = std::find(node_order.begin(), node_order.end(), node) - node_order.begin();
      env["NODE_RANK"] = std::to_string(node_rank);
      spec.hostfile = hostfile;
    }
    out.push_back(std::move(spec));
  }
  return out;
}

std::vector<std::string> JupyterCommand(const std::string& project, const std::string& name,
                                        int32_t port) {
  std::string base = wire::WorkspacePath(project, name);
  return {"jupyter-notebook", "--no-browser", "--allow-root", "--ip=127.0.0.1",
          "--port=" + std::to_string(port), "--port-retries=0", "--NotebookApp.base_url=" + base,
          "--NotebookApp.token=", "--NotebookApp.password=",
          // The gateway checks who sends each request; the browser sends
          // the session cookie only from the server's own pages.
          "--NotebookApp.disable_check_xsrf=True",
          // Requests come through the gateway with the server's Host.
          "--NotebookApp.allow_remote_access=True", "--ServerApp.base_url=" + base,
          "--IdentityProvider.token=", "--ServerApp.disable_check_xsrf=True",
          "--ServerApp.allow_remote_access=True"};
}

}  // namespace allot::agent
