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

#include "api/http_api.h"
#include "api/resources.h"
#include "common/client_config.h"
#include "server/scheduling_loop.h"
#include "store/sqlite_store.h"

namespace allot::cli {
namespace {

struct ServerOptions {
  std::string data_dir;
  std::string host = "127.0.0.1";
  int port = 7070;
  std::string admin_token_file;  // default: <data-dir>/admin-token
  std::string simulate_gpus = "4xA100-80GB";
};

ServerOptions options;
CLI::App* server_command = nullptr;
CLI::App* up_command = nullptr;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The simulated node of `allot up`, registered once with this machine's CPU
// and memory.
Status RegisterLocalNode(store::Store& store, const std::string& gpus) {
  if (store.Get("nodes", "local")) return Status::Ok();
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGE_SIZE);
  int64_t memory_mib = static_cast<int64_t>(pages) * page_size / (1024 * 1024);
  int64_t cpus = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  nlohmann::json body = {{"name", "local"},
                         {"cpu", std::to_string(cpus)},
                         {"memory", std::to_string(memory_mib) + "Mi"},
                         {"simulate_gpus", gpus}};
  auto node = api::DecodeNode(body);
  if (!node) return node.error();
  auto committed = store.Commit(
      {{store::Write::Op::kCreate, "nodes", "local", api::EncodeNode(*node).dump(), 0}});
  if (!committed) return committed.error();
  return Status::Ok();
}

int Serve(bool standalone) {
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
  // non-preemptible (interactive) work can start there too.
  int64_t default_deserved = 0;
  if (standalone) {
    auto gpus = api::ParseSimulatedGpus(options.simulate_gpus, "local");
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
  if (standalone) {
    if (Status status = RegisterLocalNode(**store, options.simulate_gpus); !status) {
      std::cerr << "allot: --simulate-gpus: " << status.error().message << "\n";
      return 2;
    }
  }

  // SIGINT and SIGTERM end the process gracefully; block them in every
  // thread and wait for them on one.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::SchedulingLoop loop(**store, NowMs);
  api::ApiOptions api_options;
  api_options.now_ms = NowMs;
  api_options.on_change = [&loop] { loop.Wake(); };
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
  if (standalone) {
    std::cout << "node 'local' with simulated GPUs " << options.simulate_gpus
              << " (the agent that runs work on real GPUs is issue 5)\n";
  }
  std::cout.flush();
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
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
}

}  // namespace

void AddServerCommands(CLI::App& app) {
  server_command = app.add_subcommand("server", "Run the control plane (API and scheduling loop)");
  AddCommon(server_command);
  up_command = app.add_subcommand(
      "up", "Run allot standalone: the control plane and a local node with simulated GPUs");
  AddCommon(up_command);
  up_command->add_option("--simulate-gpus", options.simulate_gpus,
                         "The local node's simulated GPUs, COUNTxMODEL-MEMORY (default "
                         "4xA100-80GB)");
}

int RunServerCommand() {
  if (server_command && *server_command) return Serve(false);
  if (up_command && *up_command) return Serve(true);
  return -1;
}

}  // namespace allot::cli
