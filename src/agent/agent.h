// The node agent (`allot agent`, docs/agent-protocol.md): registers its
// node(s) with a join token, heartbeats, watches the workloads assigned to
// its nodes and makes the processes on the machine match them, reports
// what happened, and serves the tasks' logs to the server.
//
// Tasks belong to their shims (task_shim.h), not to the agent: stopping or
// restarting the agent leaves them running, and a new agent process with
// the same state directory re-adopts them and reports their true state.
// While the server cannot be reached, tasks keep running; the agent lists
// again and reports what it missed once it can.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace allot::agent {

struct AgentOptions {
  std::string server;      // http://host:port
  std::string join_token;  // needed until the agent has its own token
  std::string ca_file;     // the CA of an https server; empty: the system's store
  std::string name;        // default: the host name
  std::string pool;        // default: "default" (a join token may force one)
  std::map<std::string, std::string> labels;
  std::string simulate_gpus;            // "8xH100-80GB"; empty: NVML
  int simulate_nodes = 1;               // N > 1: nodes <name>-0 ... <name>-(N-1)
  std::string state_dir;                // default: ~/.local/share/allot/agent
  std::string address;                  // default: the address toward the server
  std::string listen_host = "0.0.0.0";  // the log endpoint
  int logs_port = 0;                    // 0: any free port
  std::string shim_binary;              // default: this executable
  std::string cgroup_parent;            // default: the agent's own cgroup
  // The owners' persistent working directories (<user_dirs>/<user>): a
  // path shared by the nodes keeps a user's files across nodes.
  std::string user_dirs;  // default: <state_dir>/users
  bool quiet = false;     // no progress lines on stdout
};

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> Create(AgentOptions options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Registers every node and starts the agent's threads; returns once the
  // nodes are registered (an error when the server refuses them).
  Status Start();
  // Stops the agent's threads; tasks keep running.
  void Stop();

  // The registered node names.
  std::vector<std::string> Nodes() const;

 private:
  struct Impl;
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace allot::agent
