// The API's resources and their JSON form (docs/api.md). Decode*() reads a
// request strictly and checks everything that does not need the store;
// Encode*() writes the form the API returns and the store keeps.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "core/node.h"
#include "core/queue.h"
#include "core/workload.h"
#include "wire/isolation.h"
#include "wire/replica.h"
#include "wire/workspace.h"

namespace allot::wire {

// Names: lowercase letters, digits and '-', starting and ending with a
// letter or digit, at most 63 characters (a DNS label, as in Kubernetes).
Status CheckName(const std::string& name, const std::string& field = "name");

// A department or a project: a queue of the quota tree, of any depth.
// Projects name their department ("department"); a department may name the
// department it sits in ("parent"), or none at the top.
// A project's rule for interactive workloads whose GPUs sit idle (every
// task below 1 % GPU utilization, as the agents measure it): after
// `after_ms`, `stop` ends the workload (status `stopped`), `preempt` makes
// it preemptible, so that reclaim and preemption take its GPUs as soon as
// other work needs them. Workloads on GPUs nobody measures (simulated) are
// never idle.
enum class IdleAction { kStop, kPreempt };
const char* IdleActionName(IdleAction action);  // "stop", "preempt"
struct IdleRule {
  int64_t after_ms = 0;  // 0: no rule
  IdleAction action = IdleAction::kStop;
};

struct QueueResource {
  core::QueueSpec spec;
  IdleRule idle_interactive;  // projects only
  ProjectPolicy policy;       // projects only: volumes, root, default identity
};
// The queue as the scheduler core sees it: departments and projects share
// its queue namespace, so departments are named "department/<name>" there.
core::QueueSpec SchedulerQueue(core::QueueSpec spec, bool is_project);
Result<QueueResource> DecodeQueue(const nlohmann::json& body, bool is_project);
nlohmann::json EncodeQueue(const QueueResource& queue, bool is_project);

// The status of a workload (issue 4): pending, running, succeeded, failed,
// evicted (waiting to run again), lost, deleted, stopped (idle, issue 7).
enum class WorkloadStatus {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kEvicted,
  kLost,
  kDeleted,
  kStopped,  // by its project's idle rule
};
const char* StatusName(WorkloadStatus status);
std::optional<WorkloadStatus> ParseStatus(const std::string& text);
// Whether the scheduler still considers the workload (it waits or runs).
bool IsActive(WorkloadStatus status);

// What an agent last reported about a task's current attempt
// (docs/agent-protocol.md §4), or kWaiting while a restart backs off.
enum class TaskState {
  kNone,
  kStarting,
  kRunning,
  kExited,
  kKilled,
  kFailedToStart,
  kLost,
  kWaiting
};
// "" (none yet), "starting", "running", "exited", "killed",
// "failed_to_start", "lost", "waiting".
const char* TaskStateName(TaskState state);
std::optional<TaskState> ParseTaskState(const std::string& text);
// Whether a state ends an attempt (exited, killed, failed_to_start, lost).
bool IsFinalTaskState(TaskState state);

// One task of a workload: where it runs and what its agent last reported
// about its current attempt (docs/agent-protocol.md).
struct TaskAssignment {
  std::string node;           // empty while the task waits
  std::vector<int32_t> gpus;  // positions in the node's GPU list
  // Raised by the server every time the task is bound or restarted; an
  // agent starts a process for one (workload, task, attempt) at most once.
  int32_t attempt = 0;
  // The node of the attempt before, kept after a release so that the watch
  // of that node's agent still shows the change (and the agent stops it).
  std::string previous_node;
  TaskState state = TaskState::kNone;
  int32_t pid = 0;
  int32_t exit_code = 0;  // for exited
  std::string reason;     // for anything but starting and running
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  // A service replica's readiness as its agent probes it (only ready
  // replicas get traffic), and why it is not ready.
  bool ready = false;
  std::string ready_reason;
  int32_t restarts = 0;       // restarts after failures so far
  int64_t not_before_ms = 0;  // a restart waits until then (backoff)
  friend bool operator==(const TaskAssignment&, const TaskAssignment&) = default;
};
// Takes a task off its node: the attempt number, restart count and the last
// report stay (a later bind raises the attempt); the node is remembered in
// previous_node.
void ReleaseTask(TaskAssignment& task);
// Places a task as a new attempt: the attempt is raised, the report cleared.
void BindTask(TaskAssignment& task, std::string node, std::vector<int32_t> gpus);

struct WorkloadResource {
  core::WorkloadSpec spec;  // spec.queue is the project
  std::map<std::string, std::string> env;
  std::vector<std::string> command;
  bool priority_given = false;
  bool preemptible_given = false;
  // Eviction: SIGTERM, this long, then SIGKILL.
  int32_t grace_period_s = 30;
  // Training and distributed work restarts a failed task up to this often.
  int32_t max_restarts = 3;
  // A dynamic fraction: scheduled by its request (spec.request), it may use
  // up to this much of its GPU while the GPU's other tenants leave it free
  // (0: no more than the request). A share of the GPU, or GPU memory.
  int64_t gpu_milli_limit = 0;
  int64_t gpu_memory_limit_mib = 0;
  // The image, volumes and identity it runs with (run_as set by the server).
  TaskRuntime runtime;
  // Set for a workspace: the port the gateway serves (wire/workspace.h).
  WorkspaceSpec workspace;
  // Set for a replica of an inference service (wire/replica.h).
  ReplicaSpec replica;
  // Set by the server.
  std::string owner;
  WorkloadStatus status = WorkloadStatus::kPending;
  std::string pending_reason;
  std::string reason;                       // why it ended (failed, lost)
  std::vector<TaskAssignment> assignments;  // one per task
  int64_t created_ms = 0;
  friend bool operator==(const WorkloadResource&, const WorkloadResource&) = default;
};
// A submission: what the user may set. Kind defaults (priority,
// preemptible) are applied here.
Result<WorkloadResource> DecodeWorkloadSubmission(const nlohmann::json& body);
// The stored form, server fields included.
Result<WorkloadResource> DecodeStoredWorkload(const std::string& body);
nlohmann::json EncodeWorkload(const WorkloadResource& workload);

// A node that answers (ready) or an agent's node gone silent (lost).
enum class NodeState { kReady, kLost };
const char* NodeStateName(NodeState state);  // "ready", "lost"

struct NodeResource {
  core::NodeSpec spec;
  bool simulated = false;
  NodeState state = NodeState::kReady;
  // Set by the server for nodes an agent registered (docs/agent-protocol.md).
  std::string agent;     // the agent's id; empty: registered by an admin
  std::string address;   // where the node's tasks reach each other
  std::string logs_url;  // the agent's log endpoint
  std::string boot_id;   // changes when the machine reboots
  std::string agent_version;
};
Result<NodeResource> DecodeNode(const nlohmann::json& body);
nlohmann::json EncodeNode(const NodeResource& node);

// "4xA100-80GB" -> four simulated GPUs of model A100-80GB with 80 GiB each.
Result<std::vector<core::GpuSpec>> ParseSimulatedGpus(const std::string& text,
                                                      const std::string& node_name);

}  // namespace allot::wire
