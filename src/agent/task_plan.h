// What a node must run, derived from the workloads assigned to it
// (docs/agent-protocol.md §3): one LaunchSpec per (workload, task, attempt)
// with its command and the environment the agent injects: GPUs by UUID, the
// GPU interposer's limits for fractions, the torchrun variables and an MPI
// hostfile for work of several tasks. Pure: no processes, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/node.h"
#include "wire/resources.h"

namespace allot::agent {

// What the agent knows of a node of the cluster.
struct PeerNode {
  std::string address;
  std::vector<core::GpuSpec> gpus;
};

struct LaunchSpec {
  std::string node;
  std::string workload;
  std::string project;
  int32_t task = 0;
  int32_t attempt = 0;
  std::vector<std::string> command;
  std::map<std::string, std::string> env;  // the user's, then ours over it
  std::vector<std::string> gpu_uuids;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t grace_period_s = 30;
  int64_t not_before_ms = 0;           // a restart waits until then
  std::string hostfile;                // MPI hostfile contents; empty for one task
  std::string owner;                   // the submitting user (their working directory)
  wire::TaskRuntime runtime;           // image, volumes, identity (docs/isolation.md)
  std::vector<int32_t> gpu_positions;  // the GPUs' places in the node's list
  // A workspace's port: the task runs in a network of its own (only the
  // agent reaches the port) and learns the port from PORT.
  int32_t workspace_port = 0;
  // A service replica (wire/replica.h): the service's port, the port the
  // task listens on (a host task: a free one the agent picks at launch, in
  // PORT; a container: the service's own, in a network of its own) and the
  // path that says it is ready.
  int32_t serve_port = 0;
  int32_t listen_port = 0;
  std::string ready_path;
  bool private_network = false;

  // "<workload>.<task>.<attempt>": the task's directory name.
  std::string Key() const;
};

// The tasks `node` must run for `workload`: none unless it is running and
// a task's current assignment names the node. `peers` gives the addresses
// of the nodes its tasks run on (for MASTER_ADDR and the hostfile); a peer
// that is missing makes the result empty with `missing_peer` set, so that
// the caller refreshes its node list.
std::vector<LaunchSpec> TasksForNode(const wire::WorkloadResource& workload,
                                     const std::string& node,
                                     const std::map<std::string, PeerNode>& peers,
                                     std::string* missing_peer = nullptr);

// The command of a Jupyter workspace: Debian's jupyter-notebook (or the
// image's) on `port`, its base URL the gateway's path, its own token off
// (allot authenticates every request before the gateway passes it on).
std::vector<std::string> JupyterCommand(const std::string& project, const std::string& name,
                                        int32_t port);

// The rendezvous port of a workload's tasks: stable for the workload, in
// [20000, 30000).
int MasterPort(const std::string& workload);

}  // namespace allot::agent
