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
#include "api/front_door.h"
#include "api/http_api.h"
#include "common/client_config.h"
#include "common/quantity.h"
#include "server/control_plane.h"
#include "wire/resources.h"

namespace allot::cli {
namespace {

struct ServerOptions {
  std::string data_dir;
  std::string store;  // default: sqlite:<data-dir>/allot.db
  std::string lease_ttl = "5s";
  std::string host = "127.0.0.1";
  int port = 7070;
  std::string tls_cert;  // PEM certificate (chain) and key: https
  std::string tls_key;
  bool insecure = false;         // plain HTTP on an address other hosts reach
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

// Writes the first admin token, readable by the owner only: it is the
// cluster's first admin credential.
Status WriteAdminToken(const std::string& path, const std::string& token) {
  mode_t old_mask = umask(077);
  std::ofstream(path) << token << "\n";
  umask(old_mask);
  if (!std::filesystem::exists(path)) {
    return Error::Coded("invalid", "--admin-token-file: cannot write '" + path + "'",
                        "admin-token-file");
  }
  return Status::Ok();
}

// The control plane's options from the command line.
Result<server::ControlPlaneOptions> PlaneOptions() {
  server::ControlPlaneOptions plane;
  auto min_runtime = ParseDurationMs(options.min_runtime);
  if (!min_runtime) return Error::Coded("invalid", "--min-runtime: " + min_runtime.error().message);
  plane.scheduler.min_runtime = *min_runtime;
  plane.store_url =
      options.store.empty() ? "sqlite:" + options.data_dir + "/allot.db" : options.store;
  auto lease_ttl = ParseDurationMs(options.lease_ttl);
  if (!lease_ttl || *lease_ttl < 1000) {
    return Error::Coded("invalid", "--lease-ttl: '" + options.lease_ttl +
                                       "' is not a duration of at least 1s, as 5s or 1m");
  }
  plane.lease_ttl = std::chrono::milliseconds(*lease_ttl);
  plane.now_ms = NowMs;
  plane.timings.lost_after_ms = options.lost_after_s * 1000;
  // Several heartbeats fit in the time after which a node is lost.
  plane.timings.heartbeat_interval_ms = std::min<int64_t>(5000, plane.timings.lost_after_ms / 3);
  plane.timings.restart_backoff_ms = options.restart_backoff_s * 1000;
  plane.history_interval = std::chrono::seconds(options.history_interval_s);
  return plane;
}

// Standalone, this machine is the node `local`: its GPUs through NVML when
// it has some (unless --simulate-gpus was given), simulated otherwise.
struct LocalNode {
  std::string simulate_gpus;  // empty: the real GPUs
  int64_t gpu_milli = 0;      // the default project's deserved GPUs
  std::string join_token;     // for the agent's first start
};

Result<LocalNode> PrepareLocalNode(store::Store& store, const std::string& agent_dir) {
  LocalNode local;
  Result<std::vector<core::GpuSpec>> real = agent::DiscoverGpus();
  bool use_real = real && !real->empty() && simulate_option->count() == 0;
  local.simulate_gpus = use_real ? "" : options.simulate_gpus;
  auto gpus = use_real ? real : wire::ParseSimulatedGpus(options.simulate_gpus, "local");
  if (!gpus) return Error::Coded("invalid", "--simulate-gpus: " + gpus.error().message);
  local.gpu_milli = static_cast<int64_t>(gpus->size()) * core::kMilliPerGpu;
  if (Status status = ForgetAgentlessLocalNode(store); !status) return status.error();
  if (!std::filesystem::exists(agent_dir + "/agent.json")) {
    auto token = LocalJoinToken(store);
    if (!token) return token.error();
    local.join_token = *token;
  }
  return local;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || api::IsLoopbackAddress(host);
}

// The agent of node `local`, in this process, against the server at `port`.
Result<std::unique_ptr<agent::Agent>> LocalAgent(const LocalNode& local, int port,
                                                 const std::string& agent_dir) {
  agent::AgentOptions agent_options;
  // Through loopback when the server listens there: plain HTTP stays open
  // to it. On one other address with TLS, the agent trusts the server's own
  // certificate (self-signed, or its chain's first).
  bool any = options.host == "0.0.0.0" || options.host == "::";
  std::string host = any ? "127.0.0.1" : options.host;
  bool tls = !options.tls_cert.empty() && !IsLoopbackHost(host);
  agent_options.server = (tls ? "https://" : "http://") +
                         (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                         std::to_string(port);
  if (tls) agent_options.ca_file = options.tls_cert;
  agent_options.join_token = local.join_token;
  agent_options.name = "local";
  agent_options.simulate_gpus = local.simulate_gpus;
  agent_options.state_dir = agent_dir;
  agent_options.address = "127.0.0.1";
  agent_options.listen_host = "127.0.0.1";
  return agent::Agent::Create(agent_options);
}

int Fail(const Error& error, int code = 1) {
  std::cerr << "allot: " << error.message << "\n";
  return code;
}

// The server's TLS from --tls-cert and --tls-key (null without them). Plain
// HTTP on an address that other hosts reach would carry tokens in clear
// text: it needs --insecure, and says so.
Result<tunnel::TlsContextPtr> ServerTls() {
  if (options.tls_cert.empty() && options.tls_key.empty()) {
    if (IsLoopbackHost(options.host)) return tunnel::TlsContextPtr();
    if (!options.insecure) {
      return Error::Coded("invalid",
                          "--host " + options.host +
                              ": other hosts would send tokens in plain text; give --tls-cert "
                              "and --tls-key (docs/high-availability.md), or --insecure to "
                              "allow it anyway",
                          "host");
    }
    std::cerr << "allot: WARNING: --insecure: serving plain HTTP on " << options.host
              << ": tokens and join tokens cross the network unencrypted\n";
    return tunnel::TlsContextPtr();
  }
  return tunnel::ServerTlsContext(options.tls_cert, options.tls_key);
}

// The data directory holds the database and the first admin token: only
// its owner reads them. Tasks pass through it to their own directories
// (mode 0711), never list it.
void RestrictDataDir(const std::string& dir) {
  ::chmod(dir.c_str(), 0711);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) ::chmod(entry.path().c_str(), 0600);
  }
}

int Serve(bool standalone) {
  if (options.data_dir.empty()) options.data_dir = DefaultDataDir();
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);  // parents 0755: others pass
  ::umask(077);  // what the server and the agent write is theirs alone
  if (ec) {
    return Fail(Error::Coded(
        "invalid", "--data-dir: cannot create '" + options.data_dir + "': " + ec.message()));
  }
  Result<tunnel::TlsContextPtr> tls = ServerTls();
  if (!tls) return Fail(tls.error(), 2);
  Result<server::ControlPlaneOptions> plane_options = PlaneOptions();
  if (!plane_options) return Fail(plane_options.error());
  auto plane = server::ControlPlane::Open(std::move(*plane_options));
  if (!plane) return Fail(plane.error());
  store::Store& store = (*plane)->store();
  RestrictDataDir(options.data_dir);
  auto admin_token = api::BootstrapAdmin(store, NowMs());
  if (!admin_token) return Fail(admin_token.error());
  std::string token_file = options.admin_token_file.empty() ? options.data_dir + "/admin-token"
                                                            : options.admin_token_file;
  if (!admin_token->empty()) {
    if (Status written = WriteAdminToken(token_file, *admin_token); !written) {
      return Fail(written.error());
    }
  }
  // Standalone, the default project is guaranteed the local GPUs, so that
  // non-preemptible (interactive) work can start there too.
  std::string agent_dir = options.data_dir + "/agent";
  LocalNode local;
  if (standalone) {
    Result<LocalNode> prepared = PrepareLocalNode(store, agent_dir);
    if (!prepared) return Fail(prepared.error(), 2);
    local = std::move(*prepared);
  }
  if (Status status = api::BootstrapDefaultProject(store, local.gpu_milli); !status) {
    return Fail(status.error());
  }

  // SIGINT and SIGTERM end the process gracefully; block them in every
  // thread and wait for them on one.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  api::ApiOptions api_options = api::ApiOptionsFor(**plane);
  api_options.tls = *tls;
  api::HttpApi http(store, std::move(api_options));
  auto port = http.Bind(options.host, options.port);
  if (!port) return Fail(port.error());
  (*plane)->Start();
  std::cout << "allot " << (standalone ? "up" : "server") << ": " << (*tls ? "https" : "http")
            << "://" << options.host << ":" << *port << "  (data in " << options.data_dir << ")\n";
  std::cout << "admin token: " << token_file
            << (admin_token->empty() ? " (written at first start)" : " (new)") << "\n";
  std::cout.flush();
  // Standalone, this process is the local node's agent too. It starts on a
  // thread of its own: it registers through the API, which serves below.
  std::unique_ptr<agent::Agent> local_agent;
  std::thread agent_starter;
  if (standalone) {
    auto created = LocalAgent(local, *port, agent_dir);
    if (!created) return Fail(Error::Coded("invalid", "agent: " + created.error().message), 2);
    local_agent = std::move(*created);
    agent_starter = std::thread([&local_agent, simulate_gpus = local.simulate_gpus] {
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
  (*plane)->Stop();
  return 0;
}

void AddCommon(CLI::App* command) {
  command->add_option("--data-dir", options.data_dir,
                      "Where the database lives (default ~/.local/share/allot)");
  command->add_option("--store", options.store,
                      "The store: sqlite:PATH (default sqlite:<data-dir>/allot.db, one server) or "
                      "postgresql://user@host/db (several servers; docs/high-availability.md)");
  command->add_option("--lease-ttl", options.lease_ttl,
                      "With several servers: how long the leader's lease lasts unrenewed, about "
                      "the time to replace a lost leader (default 5s)");
  command->add_option("--host", options.host,
                      "Address to listen on (default 127.0.0.1; any other needs --tls-cert or "
                      "--insecure)");
  command->add_option("--tls-cert", options.tls_cert,
                      "Serve https with this PEM certificate (and chain); plain http stays "
                      "open to this machine's loopback only");
  command->add_option("--tls-key", options.tls_key, "The PEM private key of --tls-cert");
  command->add_flag("--insecure", options.insecure,
                    "Allow plain HTTP on an address other hosts reach (tokens in clear text)");
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
