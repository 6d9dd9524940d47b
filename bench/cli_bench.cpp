#include "bench/cli_bench.h"

#include <fcntl.h>
#include <httplib.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "bench/bench_server.h"

extern char** environ;

namespace allot::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// What one way of submitting measured.
struct Run {
  double seconds = 0;
  std::vector<double> ms;  // each submission's
  std::string first_failure;

  double PerSecond() const { return seconds > 0 ? static_cast<double>(ms.size()) / seconds : 0; }
};

// `count` calls of `one(i)` from `clients` threads; `one` returns an error
// text or "".
Run Parallel(int64_t clients, int64_t count, const std::function<std::string(int64_t)>& one) {
  std::atomic<int64_t> next{0};
  std::mutex mutex;
  Run run;
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int64_t c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      for (int64_t i = next++; i < count; i = next++) {
        auto began = Clock::now();
        std::string failure = one(i);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
        std::lock_guard lock(mutex);
        run.ms.push_back(ms);
        if (!failure.empty() && run.first_failure.empty()) run.first_failure = failure;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

// Runs `argv` with `env`, stdout to /dev/null and stderr to `err_file`;
// "" when it exits 0, else what it said.
std::string Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  const std::string& err_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  args.push_back(nullptr);
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return "cannot run " + argv[0] + ": " + std::strerror(rc);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  std::ifstream in(err_file);
  std::stringstream said;
  said << in.rdbuf();
  return argv[0] + " exited " + std::to_string(WEXITSTATUS(status)) + ": " + said.str();
}

std::string HttpSubmit(int port, const std::string& token, int64_t i) {
  nlohmann::json body = {{"name", "http-" + std::to_string(i)},
                         {"project", "default"},
                         {"gpu", "1"},
                         {"command", {"python", "train.py"}}};
  httplib::Client client("127.0.0.1", port);  // a new connection for each
  client.set_tcp_nodelay(true);
  auto res = client.Post("/api/v1/workloads", {{"Authorization", "Bearer " + token}}, body.dump(),
                         "application/json");
  if (res && res->status == 201) return "";
  return res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error());
}

}  // namespace

Status CliSubmit(const ApiBenchOptions& o, std::ostream& out) {
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  std::string allot = (dir / "allot").string(), core = (dir / "allot-core").string();
  if (ec || ::access(allot.c_str(), X_OK) != 0) {
    return Error{"cli-submit: no allot executable beside this one (" + allot + "): build it",
                 "name"};
  }
  auto started = Server::Start(false, "");
  if (!started) return started.error();
  Server& server = **started;
  fs::path home = fs::temp_directory_path() / ("allot-cli-bench-" + std::to_string(getpid()));
  fs::create_directories(home);
  std::vector<std::string> env = {"HOME=" + home.string(), "PATH=/usr/bin:/bin",
                                  "ALLOT_SERVER=http://127.0.0.1:" + std::to_string(server.port()),
                                  "ALLOT_TOKEN=" + server.token()};
  auto err_file = [&home] {
    std::ostringstream name;
    name << std::this_thread::get_id();
    return (home / ("stderr-" + name.str())).string();
  };
  Run http = Parallel(o.clients, o.workloads,
                      [&](int64_t i) { return HttpSubmit(server.port(), server.token(), i); });
  Run cli = Parallel(o.clients, o.workloads, [&](int64_t i) {
    return Spawn({allot, "submit", "--name", "cli-" + std::to_string(i), "--gpu", "1", "--",
                  "python", "train.py"},
                 env, err_file());
  });
  Run start = Parallel(1, 50, [&](int64_t) {
    return Spawn({allot, "--version"}, env, err_file());
  });
  Run core_start = Parallel(1, 50, [&](int64_t) {
    return Spawn({core, "--version"}, env, err_file());
  });
  fs::remove_all(home, ec);
  for (const Run* run : {&http, &cli, &start, &core_start}) {
    if (!run->first_failure.empty()) return Error{"cli-submit: " + run->first_failure};
  }
  out << nlohmann::json{{"bench", "cli-submit"},
                        {"workloads", o.workloads},
                        {"clients", o.clients},
                        {"http_per_s", http.PerSecond()},
                        {"http_ms_p50", Median(http.ms)},
                        {"cli_per_s", cli.PerSecond()},
                        {"cli_ms_p50", Median(cli.ms)},
                        {"cli_time_vs_http", http.PerSecond() / cli.PerSecond()},
                        {"allot_start_ms_p50", Median(start.ms)},
                        {"allot_core_start_ms_p50", Median(core_start.ms)}}
             .dump()
      << "\n";
  return Status::Ok();
}

}  // namespace allot::bench
