#include "agent/task_shim.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "agent/container_task.h"
#include "agent/reclaim_reason.h"
#include "agent/task_files.h"
#include "agent/task_identity.h"
#include "agent/task_network.h"
#include "cuda/gpu_limits.h"

namespace allot::agent {
namespace {

using nlohmann::json;

// The task's output file, rotated at kLogRotateBytes keeping kLogFilesKept.
class RotatingLog {
 public:
  explicit RotatingLog(std::string path) : path_(std::move(path)) { Open(); }
  ~RotatingLog() {
    if (fd_ >= 0) ::close(fd_);
  }

  void Write(const char* data, size_t size) {
    if (fd_ < 0) return;
    if (size_ + static_cast<int64_t>(size) > kLogRotateBytes) Rotate();
    while (size > 0) {
      ssize_t n = ::write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      data += n;
      size -= static_cast<size_t>(n);
      size_ += n;
    }
  }

 private:
  void Open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat info {};
    size_ = fd_ >= 0 && ::fstat(fd_, &info) == 0 ? info.st_size : 0;
  }
  void Rotate() {
    ::close(fd_);
    for (int i = kLogFilesKept - 1; i >= 1; --i) {
      std::string from = path_ + "." + std::to_string(i);
      std::string to = path_ + "." + std::to_string(i + 1);
      ::rename(from.c_str(), to.c_str());
    }
    std::string first = path_ + ".1";
    ::rename(path_.c_str(), first.c_str());
    Open();
  }

  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

bool WriteSmallFile(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  return static_cast<bool>(file);
}

// A cgroup v2 for the task under `parent` with its CPU and memory limits;
// "" when none can be made (no cgroup v2, not delegated to us).
std::string MakeCgroup(const std::string& parent, const std::string& name, int64_t cpu_milli,
                       int64_t memory_mib) {
  if (parent.empty()) return "";
  std::string path = parent + "/" + name;
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return "";
  bool ok = true;
  if (memory_mib > 0) {
    ok = WriteSmallFile(path + "/memory.max", std::to_string(memory_mib * 1024 * 1024));
  }
  if (ok && cpu_milli > 0) {
    ok = WriteSmallFile(path + "/cpu.max", std::to_string(cpu_milli * 100) + " 100000");
  }
  if (!ok) {
    ::rmdir(path.c_str());
    return "";
  }
  return path;
}

// The environment a task starts with: a few variables of the agent's (so
// that programs are found), the owner's home (its persistent working
// directory), then the task's own.
std::vector<std::string> TaskEnvironment(const json& spec) {
  std::map<std::string, std::string> merged;
  // The node's GPU ledger directory is the agent's: it reads the tasks' use there.
  for (const char* inherited : {"PATH", "LANG", "TZ", "LD_LIBRARY_PATH", "ALLOT_GPU_LEDGER_DIR"}) {
    if (const char* value = std::getenv(inherited)) merged[inherited] = value;
  }
  if (!merged.count("PATH")) merged["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  std::string owner = spec.value("owner", std::string());
  std::string user_dir = spec.value("user_dir", std::string());
  if (!owner.empty()) merged["USER"] = owner;
  if (!user_dir.empty()) {
    merged["HOME"] = user_dir;
    merged["ALLOT_USER_DIR"] = user_dir;
  }
  const json env = spec.value("env", json::object());
  for (auto item = env.begin(); item != env.end(); ++item) {
    merged[item.key()] = item.value().get<std::string>();
  }
  // The GPU ledger is the node's, shared by the GPU's tenants: not the task's to move.
  if (const char* ledger = std::getenv("ALLOT_GPU_LEDGER_DIR"); ledger && *ledger) {
    merged["ALLOT_GPU_LEDGER_DIR"] = ledger;
  }
  std::vector<std::string> out;
  for (const auto& [key, value] : merged) out.push_back(key + "=" + value);
  return out;
}

// A GPU fraction of a host task runs under the interposer, which enforces
// it; without the library the task does not start (fail closed).
Result<std::string> PreloadInterposer(const json& spec, std::vector<std::string>& environment) {
  Result<std::string> library = InterposerLibraryFor(spec);
  if (!library) return library.error();
  std::string preload = "LD_PRELOAD=" + *library;
  auto existing =
      std::find_if(environment.begin(), environment.end(),
                   [](const std::string& entry) { return entry.rfind("LD_PRELOAD=", 0) == 0; });
  if (existing == environment.end()) {
    environment.push_back(preload);
  } else {
    *existing = preload + ":" + existing->substr(11);
  }
  return *library;
}

// What the shim's child executes: the task itself (a host process, as its
// identity, in its working directory) or the OCI runtime (as the agent's
// user, which sets the identity inside the container).
struct Launch {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  TaskIdentity identity;
  bool enter_identity = true;
  std::string cgroup_procs;  // "" for none
  int64_t memory_rlimit_mib = 0;
  // A file the task must be able to read as its identity (the interposer a
  // fraction preloads: the dynamic loader would skip an unreadable one and
  // run the task unlimited).
  std::string must_read;
};

// The child's error when the task's identity cannot read `must_read`.
constexpr int kCannotReadRequired = -1;

// The child's side of fork: nothing but async-signal-safe calls. Writes
// the errno of a failed step to `error_fd` and exits.
[[noreturn]] void StartChild(Launch& launch, const std::string& path_variable, int output_fd,
                             int error_fd) {
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (!launch.cgroup_procs.empty()) {
    int fd = ::open(launch.cgroup_procs.c_str(), O_WRONLY);
    if (fd >= 0) {
      (void)!::write(fd, "0", 1);
      ::close(fd);
    }
  } else if (launch.memory_rlimit_mib > 0) {
    rlim_t bytes = static_cast<rlim_t>(launch.memory_rlimit_mib) * 1024 * 1024;
    rlimit limit{bytes, bytes};
    ::setrlimit(RLIMIT_DATA, &limit);
  }
  int null = ::open("/dev/null", O_RDONLY);
  ::dup2(null, 0);
  ::dup2(output_fd, 1);
  ::dup2(output_fd, 2);
  std::vector<char*> argv;
  for (auto& arg : launch.argv) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& entry : launch.env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  int error = launch.enter_identity ? EnterIdentity(launch.identity) : 0;
  if (error == 0 && !launch.must_read.empty() && ::access(launch.must_read.c_str(), R_OK) != 0) {
    error = kCannotReadRequired;
  }
  if (error == 0 && ::chdir(launch.cwd.c_str()) != 0) error = errno;
  if (error == 0) {
    ::umask(022);
    ::setenv("PATH", path_variable.c_str(), 1);  // where execvpe looks
    ::execvpe(argv[0], argv.data(), envp.data());
    error = errno;
  }
  (void)!::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

// Records a file the agent reads; a failure can only be told on stderr
// (the agent's), and the agent then reports the task lost.
void Record(const std::string& path, const std::string& text) {
  if (Status written = WriteFileAtomically(path, text); !written) {
    std::fprintf(stderr, "allot task-shim: %s\n", written.error().message.c_str());
  }
}

void Finish(const std::string& dir, json outcome) {
  outcome["finished_ms"] = WallMs();
  Record(dir + "/exit.json", outcome.dump());
}

}  // namespace

namespace {

// How the task's launch is prepared: its identity, directories,
// environment and, for an image, its container.
Result<Launch> PrepareLaunch(const std::string& dir, const json& spec,
                             std::optional<PreparedContainer>& container) {
  Launch launch;
  Result<TaskIdentity> identity = TaskIdentityFor(spec, ::geteuid());
  if (!identity) return identity.error();
  launch.identity = *identity;
  launch.cwd = dir + "/work";
  if (Status s = PrepareOwnedDirectory(launch.cwd, launch.identity); !s) return s.error();
  if (std::string user_dir = spec.value("user_dir", std::string()); !user_dir.empty()) {
    if (Status s = PrepareOwnedDirectory(user_dir, launch.identity); !s) return s.error();
    // A workspace works in its owner's directory: its files outlive a stop.
    if (spec.value("workspace_port", 0) > 0) launch.cwd = user_dir;
  }
  std::vector<std::string> environment = TaskEnvironment(spec);
  if (!spec.value("image", std::string()).empty()) {
    Result<PreparedContainer> prepared = PrepareContainer(dir, spec, launch.identity, environment);
    if (!prepared) return prepared.error();
    container = *prepared;
    launch.argv = prepared->command;
    launch.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    launch.cwd = dir;
    launch.enter_identity = false;  // the runtime enters it inside the container
    return launch;
  }
  if (spec.value("env", json::object()).contains("ALLOT_GPU_MEMORY_LIMIT")) {
    Result<std::string> library = PreloadInterposer(spec, environment);
    if (!library) return library.error();
    launch.must_read = *library;
  }
  launch.argv = spec.value("command", std::vector<std::string>{});
  launch.env = environment;
  std::string name = dir.substr(dir.rfind('/') + 1);
  std::string cgroup =
      MakeCgroup(spec.value("cgroup_parent", ""), "allot-" + name,
                 spec.value("cpu_milli", int64_t{0}), spec.value("memory_mib", int64_t{0}));
  if (!cgroup.empty()) {
    launch.cgroup_procs = cgroup + "/cgroup.procs";
  } else {
    launch.memory_rlimit_mib = spec.value("memory_mib", int64_t{0});
  }
  return launch;
}

// The container's first process, once the runtime wrote its pid: stop
// signals go to it (the runtime only relays them).
void RecordContainerPid(const std::string& dir, json& process) {
  if (process.contains("container_pid")) return;
  std::optional<std::string> text = ReadTextFile(dir + "/container.pid");
  int pid = text ? std::atoi(text->c_str()) : 0;
  if (pid <= 0) return;
  process["container_pid"] = pid;
  process["container_start_time"] = ProcessStartTime(pid);
  Record(dir + "/process.json", process.dump());
}

// The task's variables that name its GPUs and tenant, with the node's
// ledger directory (the agent's). Never the task's own: the shim runs as
// root and must not open a file the task chose.
std::map<std::string, std::string> LedgerEnvironment(const json& spec) {
  auto env = spec.value("env", json::object()).get<std::map<std::string, std::string>>();
  env.erase("ALLOT_GPU_LEDGER_DIR");
  const char* node_dir = std::getenv("ALLOT_GPU_LEDGER_DIR");
  if (node_dir && *node_dir) env["ALLOT_GPU_LEDGER_DIR"] = node_dir;
  return env;
}

// A dynamic fraction stops when another tenant of its GPU takes back the
// memory lent to it. The tenant's interposer records the reclaim in the
// GPU's ledger and signals the borrower, which the kernel refuses when the
// borrower runs as another user; so the borrower's shim (root) watches the
// ledger too and stops its own task: SIGTERM, then SIGKILL after 2 s, as
// the interposer does.
class ReclaimWatch {
 public:
  ReclaimWatch(const json& spec, int64_t started_ms) : started_ms_(started_ms) {
    env_ = LedgerEnvironment(spec);
    watching_ = env_.count("ALLOT_GPU_MEMORY_REQUEST") > 0;
  }
  // Called on every turn of the wait; `signal_task` signals the task.
  void Tick(const std::function<void(int)>& signal_task) {
    if (!watching_) return;
    int64_t now = WallMs();
    if (sigterm_ms_ == 0) {
      if (now - checked_ms_ < 500) return;
      checked_ms_ = now;
      if (ReclaimReason(env_, started_ms_).empty()) return;
      sigterm_ms_ = now;
      signal_task(SIGTERM);
    } else if (!killed_ && now - sigterm_ms_ >= 2000) {
      killed_ = true;
      signal_task(SIGKILL);
    }
  }

 private:
  std::map<std::string, std::string> env_;
  int64_t started_ms_ = 0;
  bool watching_ = false;
  int64_t checked_ms_ = 0;
  int64_t sigterm_ms_ = 0;
  bool killed_ = false;
};

// Copies the task's output to the log until it ends; its wait status.
int WaitForTask(const std::string& dir, pid_t child, int output_fd, RotatingLog& log, json& process,
                bool container, ReclaimWatch& reclaim) {
  char buffer[65536];
  int status = 0;
  bool ended = false;
  auto signal_task = [&](int signal) {
    int first = process.value("container_pid", 0);
    if (first > 0) {
      ::kill(first, signal);
    } else {
      ::kill(-child, signal);
    }
  };
  for (;;) {
    if (container) RecordContainerPid(dir, process);
    reclaim.Tick(signal_task);
    pollfd ready{output_fd, POLLIN, 0};
    if (::poll(&ready, 1, 200) > 0) {
      ssize_t n = ::read(output_fd, buffer, sizeof buffer);
      if (n > 0) {
        log.Write(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) break;  // the task closed its output: wait for it below
    }
    if (::waitpid(child, &status, WNOHANG) == child) {
      ended = true;
      // The task is its main process: what it left behind in its group
      // goes with it; then what is left in the pipe is copied.
      ::kill(-child, SIGKILL);
      ::fcntl(output_fd, F_SETFL, O_NONBLOCK);
      for (ssize_t n; (n = ::read(output_fd, buffer, sizeof buffer)) > 0;) {
        log.Write(buffer, static_cast<size_t>(n));
      }
      break;
    }
  }
  if (!ended) {
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    ::kill(-child, SIGKILL);
  }
  return status;
}

// How the task ended, as exit.json says it. A container's runtime exits
// 128+N when the container's process was killed by signal N.
json Outcome(int status, bool container) {
  if (WIFSIGNALED(status)) return {{"state", "killed"}, {"signal", WTERMSIG(status)}};
  int code = WEXITSTATUS(status);
  if (container && code > 128 && code < 128 + 65) {
    return {{"state", "killed"}, {"signal", code - 128}};
  }
  return {{"state", "exited"}, {"exit_code", code}};
}

}  // namespace

int RunTaskShim(const std::string& dir) {
  std::optional<json> spec = ReadJsonFile(dir + "/spec.json");
  if (!spec) {
    std::fprintf(stderr, "allot task-shim: no readable %s/spec.json\n", dir.c_str());
    return 2;
  }
  pid_t self = ::getpid();
  Record(dir + "/shim.pid", std::to_string(self) + " " + std::to_string(ProcessStartTime(self)));
  RotatingLog log(dir + "/output.log");
  auto refuse = [&](const std::string& reason) {
    std::string line = "allot: cannot start the task: " + reason + "\n";
    log.Write(line.data(), line.size());
    Finish(dir, {{"state", "failed_to_start"}, {"reason", reason}});
    return 0;
  };
  if (spec->value("command", std::vector<std::string>{}).empty() &&
      spec->value("image", std::string()).empty()) {
    return refuse("the workload has no command: submit it with one after --");
  }
  bool private_network =
      spec->value("workspace_port", 0) > 0 || spec->value("private_network", false);
  if (private_network && ::geteuid() == 0) {
    if (Status s = EnterPrivateNetwork(); !s) return refuse(s.error().message);
  }
  std::optional<PreparedContainer> container;
  Result<Launch> launch = PrepareLaunch(dir, *spec, container);
  if (!launch) {
    if (container) CleanUpContainer(dir, *container);
    return refuse(launch.error().message);
  }
  std::string path_variable = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& entry : launch->env) {
    if (entry.rfind("PATH=", 0) == 0) path_variable = entry.substr(5);
  }
  auto end_container = [&] {
    if (container) CleanUpContainer(dir, *container);
    if (!launch->cgroup_procs.empty()) {
      std::string cgroup = launch->cgroup_procs.substr(0, launch->cgroup_procs.rfind('/'));
      for (int i = 0; i < 50 && ::rmdir(cgroup.c_str()) != 0; ++i) ::usleep(20000);
    }
  };

  int output[2];
  int exec_error[2];
  if (::pipe2(output, O_CLOEXEC) != 0 || ::pipe2(exec_error, O_CLOEXEC) != 0) {
    end_container();
    return refuse(std::string("pipe: ") + strerror(errno));
  }
  pid_t child = ::fork();
  if (child == 0) StartChild(*launch, path_variable, output[1], exec_error[1]);
  ::close(output[1]);
  ::close(exec_error[1]);
  if (child < 0) {
    end_container();
    return refuse(std::string("fork: ") + strerror(errno));
  }
  int error = 0;
  ssize_t got = ::read(exec_error[0], &error, sizeof error);
  ::close(exec_error[0]);
  if (got == static_cast<ssize_t>(sizeof error)) {
    ::waitpid(child, nullptr, 0);
    end_container();
    if (error == kCannotReadRequired) {
      return refuse("the GPU interposer " + launch->must_read + " is not readable by " +
                    launch->identity.description +
                    ": a fraction does not run without it (the agent keeps a copy in its state "
                    "directory; check that directory's permissions)");
    }
    return refuse(launch->argv[0] + ": " + std::strerror(error));
  }
  int64_t started_ms = WallMs();
  json process = {{"pid", child},
                  {"start_time", ProcessStartTime(child)},
                  {"started_ms", started_ms},
                  {"identity", launch->identity.description},
                  {"limits", container                      ? "container " + container->id
                             : launch->cgroup_procs.empty() ? std::string("rlimits")
                                                            : "cgroup " + launch->cgroup_procs},
                  // What `allot exec` runs a command with (task_exec.h).
                  {"exec",
                   {{"env", launch->env},
                    {"cwd", launch->cwd},
                    {"cgroup_procs", launch->cgroup_procs},
                    {"container", container ? container->id : std::string()},
                    {"runtime", container ? container->command.front() : std::string()}}}};
  Record(dir + "/process.json", process.dump());
  ReclaimWatch reclaim(*spec, started_ms);
  int status = WaitForTask(dir, child, output[0], log, process, container.has_value(), reclaim);
  ::close(output[0]);
  json outcome = Outcome(status, container.has_value());
  if (std::string why = ReclaimReason(LedgerEnvironment(*spec), started_ms); !why.empty()) {
    outcome["reason"] = why;
  }
  Finish(dir, outcome);
  end_container();
  return 0;
}

}  // namespace allot::agent
