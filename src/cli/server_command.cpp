#include "cli/server_command.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "agent/agent.h"
#include "agent/inventory.h"
#include "api/auth.h"
#include "api/http_api.h"
#include "common/client_config.h"
#include "common/quantity.h"
#include "server/scheduling_loop.h"
#include "store/sqlite_store.h"
#include "wire/resources.h"

namespace allot::cli {
namespace {

struct ServerOptions {
  std::string data_dir;
  std::string host = "127.0.0.1";
  int port = 7070;
  std::string admin_token_file;  // default: <data-dir>/admin-token
  std::string simulate_gpus = "4xA100-80GB";
  int64_t lost_after_s = 30;
  int64_t restart_backoff_s = 10;
  int64_t history_interval_s = 60;
  std::string min_runtime = "0s";
};

ServerOptions options;
CLI::App* server_command = nullptr;
CLI::App* up_command = nullptr;
CLI::Option* simulate_option = nullptr;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A join token for the in-process agent of `allot up`, written straight to
// the store (the agent uses it once; later starts use the agent's own token).
Result<std::string> LocalJoinToken(store::Store& store) {
  Result<api::NewToken> issued = api::IssueToken("", NowMs());
  if (!issued) return issued.error();
  api::JoinTokenRecord record;
  record.id = issued->record.id;
  record.secret_hash = issued->record.secret_hash;
  record.expires_ms = NowMs() + 600000;
  record.created_by = "allot up";
  record.created_ms = NowMs();
  Result<int64_t> committed = store.Commit({{store::Write::Op::kCreate, "join_tokens", record.id,
                                             api::EncodeJoinToken(record).dump(), 0}});
  if (!committed) return committed.error();
  return api::kJoinTokenPrefix + issued->text.substr(6);
}

// Earlier versions registered node `local` without an agent; the agent
// registers it now.
Status ForgetAgentlessLocalNode(store::Store& store) {
  Result<store::Object> stored = store.Get("nodes", "local");
  if (!stored) return Status::Ok();
  auto node = wire::DecodeNode(nlohmann::json::parse(stored->body));
  if (!node || !node->agent.empty()) return Status::Ok();
  Result<int64_t> removed = store.Commit({{store::Write::Op::kDelete, "nodes", "local", "", 0}});
  if (!removed) return removed.error();
  return Status::Ok();
}

int Serve(bool standalone) {
  sched::SchedulerConfig scheduler_config;
  auto min_runtime = ParseDurationMs(options.min_runtime);
  if (!min_runtime) {
    std::cerr << "allot: --min-runtime: " << min_runtime.error().message << "\n";
    return 1;
  }
  scheduler_config.min_runtime = *min_runtime;
  if (options.data_dir.empty()) options.data_dir = DefaultDataDir();
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    std::cerr << "allot: --data-dir: cannot create '" << options.data_dir << "': " << ec.message()
              << "\n";
    return 1;
  }
  auto store = store::SqliteStore::Open(options.data_dir + "/allot.db");
  if (!store) {
    std::cerr << "allot: " << store.error().message << "\n";
    return 1;
  }
  auto admin_token = api::BootstrapAdmin(**store, NowMs());
  if (!admin_token) {
    std::cerr << "allot: " << admin_token.error().message << "\n";
    return 1;
  }
  std::string token_file = options.admin_token_file.empty() ? options.data_dir + "/admin-token"
                                                            : options.admin_token_file;
  if (!admin_token->empty()) {
    // Readable by the owner only: it is the cluster's first admin credential.
    mode_t old_mask = umask(077);
    std::ofstream(token_file) << *admin_token << "\n";
    umask(old_mask);
    if (!std::filesystem::exists(token_file)) {
      std::cerr << "allot: --admin-token-file: cannot write '" << token_file << "'\n";
      return 1;
    }
  }
  // Standalone, the default project is guaranteed the local GPUs, so that
  // non-preemptible (interactive) work can start there too. Real GPUs when
  // NVML finds some (unless --simulate-gpus was given), simulated otherwise.
  int64_t default_deserved = 0;
  std::string simulate_gpus;
  if (standalone) {
    Result<std::vector<core::GpuSpec>> real = agent::DiscoverGpus();
    bool use_real = real && !real->empty() && simulate_option->count() == 0;
    simulate_gpus = use_real ? "" : options.simulate_gpus;
    auto gpus = use_real ? real : wire::ParseSimulatedGpus(options.simulate_gpus, "local");
    if (!gpus) {
      std::cerr << "allot: --simulate-gpus: " << gpus.error().message << "\n";
      return 2;
    }
    default_deserved = static_cast<int64_t>(gpus->size()) * core::kMilliPerGpu;
  }
  if (Status status = api::BootstrapDefaultProject(**store, default_deserved); !status) {
    std::cerr << "allot: " << status.error().message << "\n";
    return 1;
  }
  std::string join_token;
  std::string agent_dir = options.data_dir + "/agent";
  if (standalone) {
    if (Status status = ForgetAgentlessLocalNode(**store); !status) {
      std::cerr << "allot: " << status.error().message << "\n";
      return 1;
    }
    if (!std::filesystem::exists(agent_dir + "/agent.json")) {
      auto token = LocalJoinToken(**store);
      if (!token) {
        std::cerr << "allot: " << token.error().message << "\n";
        return 1;
      }
      join_token = *token;
    }
  }

  // SIGINT and SIGTERM end the process gracefully; block them in every
  // thread and wait for them on one.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::AgentTimings timings;
  timings.lost_after_ms = options.lost_after_s * 1000;
  // Several heartbeats fit in the time after which a node is lost.
  timings.heartbeat_interval_ms = std::min<int64_t>(5000, timings.lost_after_ms / 3);
  timings.restart_backoff_ms = options.restart_backoff_s * 1000;
  server::NodeLiveness liveness(NowMs());
  MetricsRegistry metrics;
  server::WorkloadUsage workload_usage;
  server::SchedulingLoop loop(**store, NowMs, &liveness, timings, &metrics);
  if (Status configured = loop.SetSchedulerConfig(scheduler_config); !configured) {
    std::cerr << "allot: " << configured.error().message << "\n";
    return 1;
  }
  loop.SetHistory(std::chrono::seconds(options.history_interval_s));
  loop.SetWorkloadUsage(&workload_usage);
  api::ApiOptions api_options;
  api_options.now_ms = NowMs;
  api_options.on_change = [&loop] { loop.Wake(); };
  api_options.agent_timings = timings;
  api_options.liveness = &liveness;
  api_options.metrics = &metrics;
  api_options.workload_usage = &workload_usage;
  api::HttpApi http(**store, api_options);
  auto port = http.Bind(options.host, options.port);
  if (!port) {
    std::cerr << "allot: " << port.error().message << "\n";
    return 1;
  }
  loop.Start(std::chrono::seconds(1));
  std::cout << "allot " << (standalone ? "up" : "server") << ": http://" << options.host << ":"
            << *port << "  (data in " << options.data_dir << ")\n";
  std::cout << "admin token: " << token_file
            << (admin_token->empty() ? " (written at first start)" : " (new)") << "\n";
  std::cout.flush();
  // Standalone, this process is the local node's agent too. It starts on a
  // thread of its own: it registers through the API, which serves below.
  std::unique_ptr<agent::Agent> local_agent;
  std::thread agent_starter;
  if (standalone) {
    agent::AgentOptions agent_options;
    std::string host = options.host == "0.0.0.0" ? "127.0.0.1" : options.host;
    agent_options.server = "http://" + host + ":" + std::to_string(*port);
    agent_options.join_token = join_token;
    agent_options.name = "local";
    agent_options.simulate_gpus = simulate_gpus;
    agent_options.state_dir = agent_dir;
    agent_options.address = "127.0.0.1";
    agent_options.listen_host = "127.0.0.1";
    auto created = agent::Agent::Create(agent_options);
    if (!created) {
      std::cerr << "allot: agent: " << created.error().message << "\n";
      return 2;
    }
    local_agent = std::move(*created);
    agent_starter = std::thread([&local_agent, simulate_gpus] {
      if (Status started = local_agent->Start(); !started) {
        std::cerr << "allot: agent: " << started.error().message << "\n";
        return;
      }
      std::cout << "node 'local' with "
                << (simulate_gpus.empty() ? "this machine's GPUs"
                                          : "simulated GPUs " + simulate_gpus)
                << ": allot submit -- sh -c 'echo hello', then allot logs <name>" << std::endl;
    });
  }
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    // The agent first: its watch would hold the server's shutdown. Its
    // tasks keep running.
    if (agent_starter.joinable()) agent_starter.join();
    if (local_agent) local_agent->Stop();
    http.Stop();
  });
  http.Serve();
  pthread_kill(waiter.native_handle(), SIGTERM);  // if Serve ended on its own
  waiter.join();
  loop.Stop();
  return 0;
}

void AddCommon(CLI::App* command) {
  command->add_option("--data-dir", options.data_dir,
                      "Where the database lives (default ~/.local/share/allot)");
  command->add_option("--host", options.host, "Address to listen on (default 127.0.0.1)");
  command->add_option("--port", options.port, "Port to listen on (default 7070; 0: any)")
      ->check(CLI::Range(0, 65535));
  command->add_option("--admin-token-file", options.admin_token_file,
                      "Where the first admin token is written at first start "
                      "(default <data-dir>/admin-token)");
  command
      ->add_option("--node-lost-after", options.lost_after_s,
                   "Seconds without a heartbeat before an agent's node is lost (default 30)")
      ->check(CLI::Range(1, 86400));
  command
      ->add_option("--restart-backoff", options.restart_backoff_s,
                   "Seconds before a failed training task restarts, doubling (default 10)")
      ->check(CLI::Range(0, 3600));
  command
      ->add_option("--history-interval", options.history_interval_s,
                   "Seconds between the points of the cluster's history that the dashboard "
                   "charts (default 60; the last 1440 are kept)")
      ->check(CLI::Range(1, 86400));
  command->add_option("--min-runtime", options.min_runtime,
                      "How long preemptible work runs before reclaim or preemption may evict it, "
                      "as 30s, 10m or 1h (default 0s: at once)");
}

}  // namespace

void AddServerCommands(CLI::App& app) {
  server_command = app.add_subcommand("server", "Run the control plane (API and scheduling loop)");
  AddCommon(server_command);
  up_command = app.add_subcommand(
      "up", "Run allot standalone: the control plane and this machine as its node (agent)");
  AddCommon(up_command);
  simulate_option = up_command->add_option(
      "--simulate-gpus", options.simulate_gpus,
      "Simulated GPUs of the local node, COUNTxMODEL-MEMORY (default 4xA100-80GB when NVML "
      "finds no GPU)");
}

int RunServerCommand() {
  if (server_command && *server_command) return Serve(false);
  if (up_command && *up_command) return Serve(true);
  return -1;
}

}  // namespace allot::cli
