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
#include <map>
#include <vector>

#include "agent/reclaim_reason.h"
#include "agent/task_files.h"
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
// that programs are found) and then the task's own.
std::vector<std::string> TaskEnvironment(const json& env) {
  std::map<std::string, std::string> merged;
  for (const char* inherited : {"PATH", "HOME", "USER", "LANG", "TZ", "LD_LIBRARY_PATH"}) {
    if (const char* value = std::getenv(inherited)) merged[inherited] = value;
  }
  if (!merged.count("PATH")) merged["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& [key, value] : env.items()) merged[key] = value.get<std::string>();
  std::vector<std::string> out;
  for (const auto& [key, value] : merged) out.push_back(key + "=" + value);
  return out;
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

int RunTaskShim(const std::string& dir) {
  std::optional<json> spec = ReadJsonFile(dir + "/spec.json");
  if (!spec) {
    std::fprintf(stderr, "allot task-shim: no readable %s/spec.json\n", dir.c_str());
    return 2;
  }
  pid_t self = ::getpid();
  Record(dir + "/shim.pid", std::to_string(self) + " " + std::to_string(ProcessStartTime(self)));
  RotatingLog log(dir + "/output.log");
  std::vector<std::string> command = spec->value("command", std::vector<std::string>{});
  if (command.empty()) {
    std::string reason = "the workload has no command: submit it with one after --";
    log.Write(reason.data(), reason.size());
    Finish(dir, {{"state", "failed_to_start"}, {"reason", reason}});
    return 0;
  }
  std::string name = dir.substr(dir.rfind('/') + 1);
  std::string cgroup =
      MakeCgroup(spec->value("cgroup_parent", ""), "allot-" + name,
                 spec->value("cpu_milli", int64_t{0}), spec->value("memory_mib", int64_t{0}));
  int64_t memory_mib = spec->value("memory_mib", int64_t{0});
  std::vector<std::string> environment = TaskEnvironment(spec->value("env", json::object()));
  if (spec->value("env", json::object()).contains("ALLOT_GPU_MEMORY_LIMIT")) {
    // A GPU fraction runs under the interposer, which enforces it; without
    // the library the task does not start (fail closed).
    auto library = cuda::FindInterposerLibrary();
    if (!library) {
      std::string reason = "a GPU fraction needs the GPU interposer: " + library.error().message;
      log.Write(reason.data(), reason.size());
      Finish(dir, {{"state", "failed_to_start"}, {"reason", reason}});
      return 0;
    }
    std::string preload = "LD_PRELOAD=" + *library;
    auto existing =
        std::find_if(environment.begin(), environment.end(),
                     [](const std::string& entry) { return entry.rfind("LD_PRELOAD=", 0) == 0; });
    if (existing == environment.end()) {
      environment.push_back(preload);
    } else {
      *existing = preload + ":" + existing->substr(11);
    }
  }
  std::string path_variable;
  for (const auto& entry : environment) {
    if (entry.rfind("PATH=", 0) == 0) path_variable = entry.substr(5);
  }
  std::vector<char*> argv;
  for (auto& arg : command) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string work = dir + "/work";
  std::string procs = cgroup.empty() ? "" : cgroup + "/cgroup.procs";

  int output[2];
  int exec_error[2];
  if (::pipe2(output, O_CLOEXEC) != 0 || ::pipe2(exec_error, O_CLOEXEC) != 0) {
    Finish(dir,
           {{"state", "failed_to_start"}, {"reason", std::string("pipe: ") + strerror(errno)}});
    return 0;
  }
  pid_t child = ::fork();
  if (child == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!procs.empty()) {
      int fd = ::open(procs.c_str(), O_WRONLY);
      if (fd >= 0) {
        (void)!::write(fd, "0", 1);
        ::close(fd);
      }
    } else if (memory_mib > 0) {
      rlimit limit{static_cast<rlim_t>(memory_mib) * 1024 * 1024,
                   static_cast<rlim_t>(memory_mib) * 1024 * 1024};
      ::setrlimit(RLIMIT_DATA, &limit);
    }
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(output[1], 1);
    ::dup2(output[1], 2);
    int error = 0;
    if (::chdir(work.c_str()) != 0) {
      error = errno;
    } else {
      ::setenv("PATH", path_variable.c_str(), 1);  // where execvpe looks
      ::execvpe(argv[0], argv.data(), envp.data());
      error = errno;
    }
    (void)!::write(exec_error[1], &error, sizeof error);
    ::_exit(127);
  }
  ::close(output[1]);
  ::close(exec_error[1]);
  if (child < 0) {
    Finish(dir,
           {{"state", "failed_to_start"}, {"reason", std::string("fork: ") + strerror(errno)}});
    return 0;
  }
  int error = 0;
  ssize_t got = ::read(exec_error[0], &error, sizeof error);
  ::close(exec_error[0]);
  if (got == static_cast<ssize_t>(sizeof error)) {
    ::waitpid(child, nullptr, 0);
    std::string reason = command[0] + ": " + std::strerror(error);
    std::string line = "allot: cannot start " + reason + "\n";
    log.Write(line.data(), line.size());
    Finish(dir, {{"state", "failed_to_start"}, {"reason", reason}});
    if (!cgroup.empty()) ::rmdir(cgroup.c_str());
    return 0;
  }
  int64_t started_ms = WallMs();
  Record(dir + "/process.json", json{{"pid", child},
                                     {"start_time", ProcessStartTime(child)},
                                     {"started_ms", started_ms},
                                     {"limits", cgroup.empty() ? "rlimits" : "cgroup " + cgroup}}
                                    .dump());
  char buffer[65536];
  int status = 0;
  bool ended = false;
  for (;;) {
    pollfd ready{output[0], POLLIN, 0};
    if (::poll(&ready, 1, 200) > 0) {
      ssize_t n = ::read(output[0], buffer, sizeof buffer);
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
      ::fcntl(output[0], F_SETFL, O_NONBLOCK);
      for (ssize_t n; (n = ::read(output[0], buffer, sizeof buffer)) > 0;) {
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
  ::close(output[0]);
  json outcome = WIFSIGNALED(status)
                     ? json{{"state", "killed"}, {"signal", WTERMSIG(status)}}
                     : json{{"state", "exited"}, {"exit_code", WEXITSTATUS(status)}};
  std::map<std::string, std::string> env =
      spec->value("env", json::object()).get<std::map<std::string, std::string>>();
  if (std::string why = ReclaimReason(env, started_ms); !why.empty()) outcome["reason"] = why;
  Finish(dir, outcome);
  if (!cgroup.empty()) {
    for (int i = 0; i < 50 && ::rmdir(cgroup.c_str()) != 0; ++i) ::usleep(20000);
  }
  return 0;
}

}  // namespace allot::agent
