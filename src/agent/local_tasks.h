// The agent's side of a task's directory (task_files.h): start a task
// through a detached shim, observe its state from the files, stop it with
// SIGTERM, a grace period and SIGKILL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/task_plan.h"
#include "common/result.h"

namespace allot::agent {

// A task's state as its files show it, in the form the server takes
// (docs/agent-protocol.md §4).
struct ObservedTask {
  std::string state;  // starting, running, exited, killed, failed_to_start, lost
  int32_t pid = 0;
  int32_t exit_code = 0;
  int32_t signal = 0;
  std::string reason;
  int64_t time_ms = 0;  // started (running) or finished
  bool Final() const { return state != "starting" && state != "running"; }
};

// Where the agent's tasks find what they need on this node.
struct TaskHost {
  std::string shim_binary;         // run as `shim_binary task-shim DIR`
  std::string cgroup_parent;       // cgroup v2 parent of host tasks' cgroups; "" for none
  std::string user_dirs;           // the owners' persistent working directories, one per user
  std::string interposer_library;  // the agent's readable copy of the GPU interposer; "": none
};

// Creates the agent's state directory. An agent running as root runs tasks
// as their owners, who must pass through it to their own directories and
// read nothing else: it is made 0711 and it, the directories above it and
// those above `user_dirs` are checked passable (task_identity.h).
Status PrepareStateDir(const std::string& state_dir, const std::string& user_dirs);

// <state_dir>/nodes/<node>/tasks, where the node's task directories live.
std::string TasksDirOf(const std::string& state_dir, const std::string& node);
// The directory of task `key` ("<workload>.<task>.<attempt>") on the first
// of `nodes` that has it, or "".
std::string FindTaskDir(const std::string& state_dir, const std::vector<std::string>& nodes,
                        const std::string& key);
// Creates it and the directories above it in the state directory,
// passable, not listable (0711).
Status PrepareTasksDir(const std::string& state_dir, const std::string& node);

// A copy of the GPU interposer in `state_dir`/lib, which tasks can pass:
// the build or install directory beside the executable may not be (a
// checkout under /root), and the dynamic loader skips a preload it cannot
// read. Written beside and renamed, never rewritten in place (running
// tasks map it). "" when there is no interposer.
Result<std::string> KeepInterposerCopy(const std::string& state_dir);

// Records and starts `spec` in `dir` (which must not exist: an error
// "already_exists" when it does, so a task is never started twice). The
// shim is detached into a session of its own. `dir` is passable but not
// readable by the task (mode 0711): its files are the agent's.
Status LaunchTask(const std::string& dir, const LaunchSpec& spec, const TaskHost& host);

ObservedTask ObserveTask(const std::string& dir, int64_t now_ms);

// Asks a running task to stop: SIGTERM to its process group (a
// container's first process) at the first call, SIGKILL once `grace_period_s` (from its spec) has
// passed. Safe to call again and after an agent restart (the SIGTERM time is recorded).
void StopTask(const std::string& dir, int64_t now_ms);

// The cgroup v2 directory tasks' cgroups are made under: this process's
// own cgroup ("" without cgroup v2).
std::string DefaultCgroupParent();

}  // namespace allot::agent
