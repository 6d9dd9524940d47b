#include "cli/agent_command.h"

#include <sys/stat.h>

#include <signal.h>

#include <cstring>
#include <iostream>

#include "agent/agent.h"
#include "agent/task_shim.h"
#include "common/client_config.h"

namespace allot::cli {
namespace {

agent::AgentOptions options;
std::vector<std::string> labels;
CLI::App* agent_command = nullptr;

int RunAgent() {
  if (options.server.empty() || options.ca_file.empty()) {
    Result<ClientConfig> config = LoadClientConfig();
    if (config && options.server.empty()) options.server = config->server;
    if (config && options.ca_file.empty()) options.ca_file = config->ca;
  }
  for (const auto& label : labels) {
    size_t equals = label.find('=');
    if (equals == std::string::npos || equals == 0) {
      std::cerr << "allot agent: --label: '" << label << "' is not KEY=VALUE\n";
      return 2;
    }
    options.labels[label.substr(0, equals)] = label.substr(equals + 1);
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::umask(077);  // the agent's files (its token, the tasks' logs) are its own
  auto created = agent::Agent::Create(options);
  if (!created) {
    std::cerr << "allot agent: " << created.error().message << "\n";
    return 2;
  }
  if (Status started = (*created)->Start(); !started) {
    std::cerr << "allot agent: " << started.error().message << "\n";
    return started.error().code == "unreachable" ? 1 : 2;
  }
  int received = 0;
  sigwait(&signals, &received);
  std::cout << "allot agent: stopping (tasks keep running; a restarted agent re-adopts them)"
            << std::endl;
  (*created)->Stop();
  return 0;
}

}  // namespace

void AddAgentCommand(CLI::App& app) {
  agent_command =
      app.add_subcommand("agent", "Join this machine to a cluster as a node and run its tasks");
  agent_command->add_option("--server", options.server,
                            "The control plane's URL (default: from allot login / ALLOT_SERVER)");
  agent_command->add_option("--ca", options.ca_file,
                            "The CA (PEM) that an https server's certificate chains to "
                            "(default: from allot login / ALLOT_CA, else the system's store)");
  agent_command->add_option("--join-token", options.join_token,
                            "Join token from an admin (allot nodes join-token); needed once");
  agent_command->add_option("--name", options.name, "Node name (default: the host name)");
  agent_command->add_option("--pool", options.pool, "Node pool (default: default)");
  agent_command->add_option("--label", labels, "Node label KEY=VALUE (repeatable)");
  agent_command->add_option("--simulate-gpus", options.simulate_gpus,
                            "Simulated GPUs COUNTxMODEL-MEMORY, e.g. 8xH100-80GB (default: NVML)");
  agent_command
      ->add_option("--simulate-nodes", options.simulate_nodes,
                   "Stand for N simulated nodes NAME-0 ... NAME-(N-1) (needs --simulate-gpus)")
      ->check(CLI::Range(1, 100000));
  agent_command->add_option(
      "--state-dir", options.state_dir,
      "Tasks, logs and the agent's token (default <data dir>/agent: /var/lib/allot/agent for "
      "root, ~/.local/share/allot/agent otherwise)");
  agent_command->add_option(
      "--user-dirs", options.user_dirs,
      "Users' persistent working directories, one per user (default <state-dir>/users); a path "
      "the nodes share keeps users' files across nodes");
  agent_command->add_option("--address", options.address,
                            "Address other nodes reach this one at (default: toward the server)");
  agent_command->add_option("--listen", options.listen_host,
                            "Address the log endpoint listens on (default 0.0.0.0)");
  agent_command->add_option("--logs-port", options.logs_port, "Log endpoint port (default: any)")
      ->check(CLI::Range(0, 65535));
}

int RunAgentCommand() {
  if (agent_command && *agent_command) return RunAgent();
  return -1;
}

int RunTaskShimIfAsked(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "task-shim") != 0) return -1;
  if (argc != 3) {
    std::cerr << "allot task-shim DIR: run by the agent, one per task\n";
    return 2;
  }
  return agent::RunTaskShim(argv[2]);
}

}  // namespace allot::cli
