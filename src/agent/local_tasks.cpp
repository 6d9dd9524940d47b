#include "agent/local_tasks.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/task_files.h"
#include "agent/task_identity.h"
#include "cuda/gpu_limits.h"

namespace allot::agent {
namespace {

using nlohmann::json;

// "PID START_TIME" as the shim writes it.
std::pair<int, int64_t> ReadShimPid(const std::string& dir) {
  auto text = ReadTextFile(dir + "/shim.pid");
  if (!text) return {0, 0};
  std::istringstream fields(*text);
  int pid = 0;
  int64_t start = 0;
  fields >> pid >> start;
  return {pid, start};
}

// How long a task may show no shim before it counts as never started.
constexpr int64_t kShimStartMs = 30000;

}  // namespace

Status LaunchTask(const std::string& dir, const LaunchSpec& spec, const TaskHost& host) {
  if (::mkdir(dir.c_str(), 0711) != 0) {
    if (errno == EEXIST) return Error::Coded("already_exists", "task " + dir + " was started");
    return Error::Coded("internal", "cannot create " + dir + ": " + std::strerror(errno));
  }
  ::chmod(dir.c_str(), 0711);  // whatever the umask: the task passes, never lists
  std::string work = dir + "/work";
  ::mkdir(work.c_str(), 0700);
  json env = spec.env;
  if (!spec.hostfile.empty()) {
    if (Status s = WriteFileAtomically(dir + "/hostfile", spec.hostfile); !s) return s;
    env["ALLOT_HOSTFILE"] = dir + "/hostfile";
  }
  json record = {{"node", spec.node},
                 {"workload", spec.workload},
                 {"project", spec.project},
                 {"task", spec.task},
                 {"attempt", spec.attempt},
                 {"command", spec.command},
                 {"env", env},
                 {"gpus", spec.gpu_uuids},
                 {"cpu_milli", spec.cpu_milli},
                 {"memory_mib", spec.memory_mib},
                 {"grace_period_s", spec.grace_period_s},
                 {"cgroup_parent", host.cgroup_parent},
                 {"owner", spec.owner},
                 {"interposer_library", host.interposer_library},
                 {"gpu_positions", spec.gpu_positions},
                 {"created_ms", WallMs()}};
  if (!host.user_dirs.empty() && !spec.owner.empty()) {
    record["user_dir"] = host.user_dirs + "/" + spec.owner;
  }
  if (spec.workspace_port > 0) record["workspace_port"] = spec.workspace_port;
  if (spec.serve_port > 0) {
    record["serve_port"] = spec.serve_port;
    record["listen_port"] = spec.listen_port;
    record["ready_path"] = spec.ready_path;
  }
  if (spec.private_network) record["private_network"] = true;
  // The image, volumes, shm size and identity, as the server stored them.
  json runtime = json::object();
  wire::EncodeTaskRuntime(spec.runtime, runtime);
  for (const auto& [key, value] : runtime.items()) record[key] = value;
  if (spec.runtime.shm_mib > 0) record["shm_mib"] = spec.runtime.shm_mib;
  if (Status s = WriteFileAtomically(dir + "/spec.json", record.dump(2)); !s) return s;
  // Everything the children need is ready before fork: between fork and
  // exec only async-signal-safe calls (the agent has threads).
  std::string binary = host.shim_binary;
  std::string subcommand = "task-shim";
  std::string argument = dir;
  char* argv[] = {binary.data(), subcommand.data(), argument.data(), nullptr};
  pid_t first = ::fork();
  if (first < 0) return Error::Coded("internal", std::string("fork: ") + std::strerror(errno));
  if (first == 0) {
    // A session of its own: the shim and its task outlive the agent.
    ::setsid();
    if (::fork() == 0) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      ::syscall(SYS_close_range, 3U, ~0U, 0U);  // the agent's sockets stay with it
      ::execv(argv[0], argv);
      ::_exit(127);
    }
    ::_exit(0);
  }
  while (::waitpid(first, nullptr, 0) < 0 && errno == EINTR) {
  }
  return Status::Ok();
}

std::string FindTaskDir(const std::string& state_dir, const std::vector<std::string>& nodes,
                        const std::string& key) {
  for (const std::string& node : nodes) {
    std::string dir = TasksDirOf(state_dir, node) + "/" + key;
    if (::access(dir.c_str(), F_OK) == 0) return dir;
  }
  return {};
}

Status PrepareStateDir(const std::string& state_dir, const std::string& user_dirs) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    return Error::Coded(
        "invalid", "--state-dir: cannot create '" + state_dir + "': " + ec.message(), "state-dir");
  }
  if (::geteuid() != 0) return Status::Ok();
  if (Status s = CheckPassable(state_dir, true); !s) return s;
  return CheckPassable(user_dirs, false);
}

std::string TasksDirOf(const std::string& state_dir, const std::string& node) {
  return state_dir + "/nodes/" + node + "/tasks";
}

Status PrepareTasksDir(const std::string& state_dir, const std::string& node) {
  std::string tasks = TasksDirOf(state_dir, node);
  std::error_code ec;
  std::filesystem::create_directories(tasks, ec);
  if (ec) return Error::Coded("internal", "cannot create " + tasks + ": " + ec.message());
  for (const std::string& dir : {state_dir + "/nodes", state_dir + "/nodes/" + node, tasks}) {
    ::chmod(dir.c_str(), 0711);
  }
  return Status::Ok();
}

Result<std::string> KeepInterposerCopy(const std::string& state_dir) {
  auto library = cuda::FindInterposerLibrary();
  if (!library) return std::string();
  std::string dir = state_dir + "/lib";
  std::string path = dir + "/liballot-cuda.so";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0755);
  std::string partial = path + ".new";
  std::filesystem::copy_file(*library, partial, std::filesystem::copy_options::overwrite_existing,
                             ec);
  if (ec || ::chmod(partial.c_str(), 0644) != 0 || ::rename(partial.c_str(), path.c_str()) != 0) {
    return Error::Coded("internal", "cannot keep a copy of the GPU interposer in " + dir +
                                        ": fractions use " + *library);
  }
  return path;
}

ObservedTask ObserveTask(const std::string& dir, int64_t now_ms) {
  ObservedTask observed;
  if (auto ended = ReadJsonFile(dir + "/exit.json")) {
    observed.state = ended->value("state", "lost");
    observed.exit_code = ended->value("exit_code", 0);
    observed.signal = ended->value("signal", 0);
    observed.reason = ended->value("reason", "");
    observed.time_ms = ended->value("finished_ms", int64_t{0});
    if (auto process = ReadJsonFile(dir + "/process.json")) observed.pid = process->value("pid", 0);
    return observed;
  }
  auto [shim_pid, shim_start] = ReadShimPid(dir);
  bool shim_alive = ProcessAlive(shim_pid, shim_start);
  if (auto process = ReadJsonFile(dir + "/process.json")) {
    observed.pid = process->value("pid", 0);
    observed.time_ms = process->value("started_ms", int64_t{0});
    if (shim_alive || ProcessAlive(observed.pid, process->value("start_time", int64_t{0}))) {
      observed.state = "running";
      return observed;
    }
    // Read again: the shim may have written exit.json just now.
    if (ReadJsonFile(dir + "/exit.json")) return ObserveTask(dir, now_ms);
    observed.state = "lost";
    observed.reason = "its shim was killed: how it ended is unknown";
    observed.time_ms = now_ms;
    return observed;
  }
  if (shim_alive) {
    observed.state = "starting";
    return observed;
  }
  auto spec = ReadJsonFile(dir + "/spec.json");
  int64_t created = spec ? spec->value("created_ms", int64_t{0}) : 0;
  if (shim_pid == 0 && now_ms - created < kShimStartMs) {
    observed.state = "starting";
    return observed;
  }
  if (ReadJsonFile(dir + "/exit.json") || ReadJsonFile(dir + "/process.json")) {
    return ObserveTask(dir, now_ms);
  }
  observed.state = "lost";
  observed.reason = "it never started (the agent or its shim stopped first)";
  observed.time_ms = now_ms;
  return observed;
}

void StopTask(const std::string& dir, int64_t now_ms) {
  auto process = ReadJsonFile(dir + "/process.json");
  if (!process || ReadJsonFile(dir + "/exit.json")) return;  // not started, or ended
  int pid = process->value("pid", 0);
  if (!ProcessAlive(pid, process->value("start_time", int64_t{0}))) return;
  // A container: its first process, which ends the whole container; the
  // runtime in the shim's group only relays signals. Until the runtime
  // wrote that pid, the group (the runtime relays SIGTERM).
  int container = process->value("container_pid", 0);
  bool to_container =
      container > 0 && ProcessAlive(container, process->value("container_start_time", int64_t{0}));
  auto signal_task = [&](int signal) {
    if (to_container) {
      ::kill(container, signal);
    } else {
      ::kill(-pid, signal);
    }
  };
  auto spec = ReadJsonFile(dir + "/spec.json");
  int64_t grace_ms = (spec ? spec->value("grace_period_s", 30) : 30) * int64_t{1000};
  auto stop = ReadJsonFile(dir + "/stop.json");
  if (!stop) {
    signal_task(SIGTERM);
    // Without the record the next call sends SIGTERM again: harmless.
    (void)WriteFileAtomically(dir + "/stop.json",
                              json{{"sigterm_ms", now_ms}, {"sigkill", false}}.dump());
    return;
  }
  if (!stop->value("sigkill", false) && now_ms >= stop->value("sigterm_ms", now_ms) + grace_ms) {
    signal_task(SIGKILL);
    (*stop)["sigkill"] = true;
    (void)WriteFileAtomically(dir + "/stop.json", stop->dump());
  }
}

std::string DefaultCgroupParent() {
  std::ifstream file("/proc/self/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + line.substr(3);
  }
  return "";
}

}  // namespace allot::agent
