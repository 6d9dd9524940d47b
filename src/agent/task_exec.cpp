#include "agent/task_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "agent/task_files.h"
#include "agent/task_identity.h"
#include "agent/task_network.h"
#include "tunnel/dial.h"

namespace allot::agent {
namespace {

using nlohmann::json;
using tunnel::EncodeFrame;
using tunnel::FrameType;

// What the child does between fork and exec, prepared before the fork.
struct ExecPlan {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::string cgroup_procs;
  int netns = -1;  // the task's network, entered first; -1: the agent's
  std::optional<TaskIdentity> identity;
  // argv and envp as exec takes them, made before the fork: the agent has
  // threads, so the child must not allocate.
  std::vector<char*> argv_pointers;
  std::vector<char*> envp_pointers;
  void PreparePointers() {
    for (auto& arg : argv) argv_pointers.push_back(arg.data());
    argv_pointers.push_back(nullptr);
    for (auto& entry : env) envp_pointers.push_back(entry.data());
    envp_pointers.push_back(nullptr);
  }
};

// The program `name` on `path` (a PATH value); `name` itself when it has a slash.
std::string Resolve(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return name;
  size_t at = 0;
  while (at <= path.size()) {
    size_t end = path.find(':', at);
    std::string dir = path.substr(at, end == std::string::npos ? std::string::npos : end - at);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return name;
}

Result<ExecPlan> PlanExec(const std::string& dir, const tunnel::StreamRequest& request) {
  std::optional<json> spec = ReadJsonFile(dir + "/spec.json");
  std::optional<json> process = ReadJsonFile(dir + "/process.json");
  int shim = spec && process ? LiveShimPid(dir) : 0;
  if (shim == 0) {
    return Error::Coded("conflict", "the task is not running on this node");
  }
  json recorded = process->value("exec", json::object());
  ExecPlan plan;
  std::string container = recorded.value("container", "");
  if (!container.empty()) {
    plan.argv = {recorded.value("runtime", "runc"), "exec"};
    if (request.tty) plan.argv.push_back("--tty");
    plan.argv.push_back(container);
    plan.argv.insert(plan.argv.end(), request.command.begin(), request.command.end());
    plan.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
    return plan;
  }
  Result<TaskIdentity> identity = TaskIdentityFor(*spec, ::geteuid());
  if (!identity) return identity.error();
  plan.identity = *identity;
  plan.env = recorded.value("env", std::vector<std::string>{});
  plan.cwd = recorded.value("cwd", dir + "/work");
  plan.cgroup_procs = recorded.value("cgroup_procs", "");
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& entry : plan.env) {
    if (entry.rfind("PATH=", 0) == 0) path = entry.substr(5);
  }
  if (request.tty) plan.env.push_back("TERM=xterm");
  plan.argv = request.command;
  plan.argv[0] = Resolve(plan.argv[0], path);
  plan.netns = OpenTaskNetwork(shim);
  return plan;
}

// The child: async-signal-safe calls only.
[[noreturn]] void StartCommand(ExecPlan& plan, int in, int out, int err, bool tty, int error_fd) {
  ::setsid();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (tty) ::ioctl(in, TIOCSCTTY, 0);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  int error = 0;
  if (plan.netns >= 0 && ::setns(plan.netns, CLONE_NEWNET) != 0) error = errno;
  if (error == 0 && !plan.cgroup_procs.empty()) {
    int fd = ::open(plan.cgroup_procs.c_str(), O_WRONLY);
    if (fd >= 0) {
      (void)!::write(fd, "0", 1);
      ::close(fd);
    }
  }
  if (error == 0 && plan.identity) error = EnterIdentity(*plan.identity);
  if (error == 0 && ::chdir(plan.cwd.c_str()) != 0) error = errno;
  if (error == 0) {
    ::execve(plan.argv_pointers[0], plan.argv_pointers.data(), plan.envp_pointers.data());
    error = errno;
  }
  (void)!::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

void SendFrame(int fd, FrameType type, std::string_view payload) {
  std::string frame = EncodeFrame(type, payload);
  tunnel::WriteAll(fd, frame.data(), frame.size());
}

std::string ExitText(int status) {
  if (WIFEXITED(status)) return std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "1";
}

// Carries frames between `fd` and the command until it has exited and its
// output is drained; kills it when the stream ends first.
void Serve(int fd, std::string leftover, pid_t child, int input, int output, int errors, bool tty,
           const std::atomic<bool>& stopping) {
  tunnel::FrameReader reader;
  reader.Feed(leftover.data(), leftover.size());
  bool stream_open = true;
  char buffer[64 * 1024];
  int status = 0;
  bool exited = false;
  while (!stopping) {
    Result<std::optional<tunnel::Frame>> frame = reader.Next();
    while (frame && *frame) {
      const tunnel::Frame& f = **frame;
      if (f.type == FrameType::kStdin && input >= 0) {
        tunnel::WriteFully(input, f.payload);
      } else if (f.type == FrameType::kStdinClosed && input >= 0 && !tty) {
        ::close(input);
        input = -1;
      } else if (f.type == FrameType::kResize && tty) {
        if (auto size = tunnel::ParseResize(f.payload)) {
          winsize ws{static_cast<unsigned short>(size->first),
                     static_cast<unsigned short>(size->second), 0, 0};
          ::ioctl(output, TIOCSWINSZ, &ws);
        }
      }
      frame = reader.Next();
    }
    if (!frame) break;
    if (output < 0 && errors < 0) {
      if (!exited) ::waitpid(child, &status, 0);
      exited = true;
      break;
    }
    pollfd fds[3] = {{stream_open ? fd : -1, POLLIN, 0}, {output, POLLIN, 0}, {errors, POLLIN, 0}};
    if (::poll(fds, 3, 200) < 0 && errno != EINTR) break;
    if (fds[0].revents) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) break;  // the client went away: the command ends too
      reader.Feed(buffer, static_cast<size_t>(n));
    }
    for (int i = 1; i <= 2; ++i) {
      int& source = i == 1 ? output : errors;
      if (source < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(source, buffer, sizeof buffer);
      if (n <= 0) {
        if (tty && input == source) input = -1;
        ::close(source);
        source = -1;
        continue;
      }
      SendFrame(fd, i == 1 ? FrameType::kStdout : FrameType::kStderr,
                std::string_view(buffer, static_cast<size_t>(n)));
    }
  }
  if (!exited) {
    if (::waitpid(child, &status, WNOHANG) == child) {
      exited = true;
    } else {
      ::kill(-child, SIGKILL);
      ::waitpid(child, &status, 0);
    }
  }
  if (exited) SendFrame(fd, FrameType::kExit, ExitText(status));
  if (input >= 0 && input != output) ::close(input);
  if (output >= 0) ::close(output);
  if (errors >= 0) ::close(errors);
}

}  // namespace

void RunExec(const std::string& dir, const tunnel::StreamRequest& request, int fd,
             std::string leftover, const std::atomic<bool>& stopping) {
  Result<ExecPlan> plan = PlanExec(dir, request);
  if (!plan) {
    SendFrame(fd, FrameType::kError, plan.error().message);
    ::close(fd);
    return;
  }
  int child_in = -1, child_out = -1, child_err = -1;
  int input = -1, output = -1, errors = -1;
  if (request.tty) {
    winsize ws{static_cast<unsigned short>(request.rows > 0 ? request.rows : 24),
               static_cast<unsigned short>(request.cols > 0 ? request.cols : 80), 0, 0};
    int master = -1, slave = -1;
    if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0) {
      SendFrame(fd, FrameType::kError, std::string("openpty: ") + std::strerror(errno));
      ::close(fd);
      return;
    }
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    child_in = child_out = child_err = slave;
    input = output = master;
  } else {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0) {
      SendFrame(fd, FrameType::kError, std::string("pipe: ") + std::strerror(errno));
      ::close(fd);
      return;
    }
    child_in = in[0], input = in[1];
    child_out = out[1], output = out[0];
    child_err = err[1], errors = err[0];
  }
  int exec_error[2];
  if (::pipe2(exec_error, O_CLOEXEC) != 0) {
    ::close(fd);
    return;
  }
  plan->PreparePointers();
  pid_t child = ::fork();
  if (child == 0) StartCommand(*plan, child_in, child_out, child_err, request.tty, exec_error[1]);
  ::close(exec_error[1]);
  ::close(child_in);
  if (child_out != child_in) ::close(child_out);
  if (child_err != child_in) ::close(child_err);
  if (plan->netns >= 0) ::close(plan->netns);
  int error = 0;
  bool failed = child < 0 || ::read(exec_error[0], &error, sizeof error) == sizeof error;
  ::close(exec_error[0]);
  if (failed) {
    if (child > 0) ::waitpid(child, nullptr, 0);
    SendFrame(fd, FrameType::kError,
              request.command[0] + ": " + std::strerror(child < 0 ? errno : error));
    if (input >= 0) ::close(input);
    if (output >= 0 && output != input) ::close(output);
    if (errors >= 0) ::close(errors);
    ::close(fd);
    return;
  }
  Serve(fd, std::move(leftover), child, input, output, errors, request.tty, stopping);
  ::close(fd);
}

}  // namespace allot::agent
