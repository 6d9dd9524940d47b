#include "wire/resources.h"

#include <algorithm>
#include <array>

#include "common/quantity.h"
#include "wire/json_reader.h"

namespace allot::wire {
namespace {

using core::Resource;
using core::Resources;
using nlohmann::json;

constexpr std::array<const char*, 8> kStatusNames = {"pending", "running", "succeeded", "failed",
                                                     "evicted", "lost",    "deleted",   "stopped"};

// Where the workload may run and for how long: GPU models, node labels,
// node pools in order of preference, topology, the maximum run time.
Status ReadPlacementRules(JsonReader& reader, core::WorkloadSpec& spec) {
  if (Status s = reader.StringList("gpu_models", spec.gpu_models); !s) return s;
  if (Status s = reader.StringMap("node_selector", spec.node_selector); !s) return s;
  if (Status s = reader.StringList("pools", spec.pools); !s) return s;
  for (size_t i = 0; i < spec.pools.size(); ++i) {
    const std::string& pool = spec.pools[i];
    if (pool.empty() || std::count(spec.pools.begin(), spec.pools.end(), pool) > 1) {
      return Error::Coded("invalid",
                          "pools: '" + pool +
                              "' is empty or named twice: list each node pool once, in order of "
                              "preference",
                          "pools");
    }
  }
  auto topology = reader.Object("topology");
  if (!topology) return topology.error();
  if (*topology) {
    JsonReader inner(**topology, "topology.");
    if (Status s = inner.String("required", spec.topology.required); !s) return s;
    if (Status s = inner.String("preferred", spec.topology.preferred); !s) return s;
    if (Status s = inner.Finish(); !s) return s;
    if (!spec.topology.required.empty() && spec.topology.required == spec.topology.preferred) {
      return Error::Coded("invalid",
                          "topology.preferred: '" + spec.topology.preferred +
                              "' is also the required level: prefer a lower level (rack inside "
                              "zone) or leave it out",
                          "topology.preferred");
    }
  }
  std::string max_runtime;
  if (Status s = reader.String("max_runtime", max_runtime); !s) return s;
  if (!max_runtime.empty()) {
    auto ms = ParseDurationMs(max_runtime);
    if (!ms || *ms <= 0) {
      return Error::Coded("invalid",
                          "max_runtime: '" + max_runtime +
                              "' is not a positive duration: use for example 30m, 4h or 1h30m",
                          "max_runtime");
    }
    spec.max_runtime = *ms;
  }
  return Status::Ok();
}

// A dynamic fraction's limit above its request: gpu_limit for a share of
// the GPU, gpu_memory_limit for GPU memory, one fraction of one GPU.
Status ReadDynamicLimit(JsonReader& reader, WorkloadResource& w) {
  const core::TaskRequest& request = w.spec.request;
  if (Status s = reader.Quantity("gpu_limit", w.gpu_milli_limit, ParseMilli); !s) return s;
  if (Status s = reader.Quantity("gpu_memory_limit", w.gpu_memory_limit_mib, ParseMebibytes); !s) {
    return s;
  }
  if (w.gpu_milli_limit != 0) {
    if (request.gpu_milli <= 0 || request.gpu_milli >= core::kMilliPerGpu) {
      return Error::Coded("invalid",
                          "gpu_limit: only a fraction of one GPU has a limit above its request: "
                          "give gpu below 1 (gpu: 0.25, gpu_limit: 0.5)",
                          "gpu_limit");
    }
    if (w.gpu_milli_limit < request.gpu_milli || w.gpu_milli_limit > core::kMilliPerGpu) {
      return Error::Coded("invalid",
                          "gpu_limit: " + FormatMilli(w.gpu_milli_limit) + " must be from gpu (" +
                              FormatMilli(request.gpu_milli) +
                              ") to 1: a fraction never spans GPUs",
                          "gpu_limit");
    }
  }
  if (w.gpu_memory_limit_mib != 0) {
    if (request.gpu_memory_mib <= 0) {
      return Error::Coded("invalid",
                          "gpu_memory_limit: give gpu_memory, the request it is a limit above "
                          "(gpu_memory: 10Gi, gpu_memory_limit: 20Gi)",
                          "gpu_memory_limit");
    }
    if (w.gpu_memory_limit_mib < request.gpu_memory_mib) {
      return Error::Coded("invalid",
                          "gpu_memory_limit: " + FormatMebibytes(w.gpu_memory_limit_mib) +
                              " is below gpu_memory (" + FormatMebibytes(request.gpu_memory_mib) +
                              "): raise it or drop it",
                          "gpu_memory_limit");
    }
  }
  return Status::Ok();
}

// The fields a submitter sets; shared by submissions and the stored form.
Status ReadWorkloadSpec(JsonReader& reader, WorkloadResource& w) {
  core::WorkloadSpec& spec = w.spec;
  if (Status s = reader.String("name", spec.name, true); !s) return s;
  if (Status s = CheckName(spec.name); !s) return s;
  if (Status s = reader.String("project", spec.queue, true); !s) return s;
  if (Status s = CheckName(spec.queue, "project"); !s) return s;
  std::string kind = "training";
  if (Status s = reader.String("kind", kind); !s) return s;
  auto parsed_kind = core::ParseWorkloadKind(kind);
  if (!parsed_kind) {
    return Error::Coded(
        "invalid",
        "kind: '" + kind + "' is not a kind: use training, distributed, interactive or inference",
        "kind");
  }
  spec.kind = *parsed_kind;
  core::TaskRequest& request = spec.request;
  if (Status s = reader.Quantity("gpu", request.gpu_milli, ParseMilli); !s) return s;
  if (Status s = reader.Quantity("gpu_memory", request.gpu_memory_mib, ParseMebibytes); !s) {
    return s;
  }
  if (Status s = reader.Quantity("cpu", request.cpu_milli, ParseMillicores); !s) return s;
  if (Status s = reader.Quantity("memory", request.memory_mib, ParseMebibytes); !s) return s;
  for (auto [field, amount] : {std::pair{"gpu", request.gpu_milli},
                               {"gpu_memory", request.gpu_memory_mib},
                               {"cpu", request.cpu_milli},
                               {"memory", request.memory_mib}}) {
    if (amount < 0) {
      return Error::Coded("invalid", std::string(field) + " must not be negative", field);
    }
  }
  if (request.gpu_milli > core::kMilliPerGpu && request.gpu_milli % core::kMilliPerGpu != 0) {
    return Error::Coded("invalid",
                        "gpu: " + FormatMilli(request.gpu_milli) +
                            " mixes whole GPUs and a fraction: a fraction is a share of one GPU "
                            "(below 1); above 1 ask for whole GPUs",
                        "gpu");
  }
  if (request.gpu_milli > 0 && request.gpu_memory_mib > 0) {
    return Error::Coded("invalid", "give either gpu or gpu_memory, not both", "gpu_memory");
  }
  int64_t workers = 1;
  if (Status s = reader.Int("workers", workers, 1, 10000); !s) return s;
  spec.tasks = static_cast<int32_t>(workers);
  int64_t min_workers = spec.kind == core::WorkloadKind::kDistributed ? workers : 1;
  if (Status s = reader.Int("min_workers", min_workers, 1, workers); !s) return s;
  spec.min_tasks = static_cast<int32_t>(min_workers);
  core::KindDefaults defaults = core::DefaultsFor(spec.kind);
  spec.priority = defaults.priority;
  spec.preemptible = defaults.preemptible;
  w.priority_given = reader.Find("priority") != nullptr;
  w.preemptible_given = reader.Find("preemptible") != nullptr;
  if (Status s = reader.Int32("priority", spec.priority, 0, 1000); !s) return s;
  if (Status s = reader.Bool("preemptible", spec.preemptible); !s) return s;
  if (Status s = ReadDynamicLimit(reader, w); !s) return s;
  if (Status s = ReadPlacementRules(reader, spec); !s) return s;
  if (Status s = reader.StringMap("env", w.env); !s) return s;
  if (Status s = reader.StringList("command", w.command); !s) return s;
  if (Status s = reader.Int32("grace_period_s", w.grace_period_s, 0, 3600); !s) return s;
  if (Status s = reader.Int32("max_restarts", w.max_restarts, 0, 100); !s) return s;
  return Status::Ok();
}

// A submission's fields and the server's run_as in the stored form.
Status ReadWorkload(JsonReader& reader, WorkloadResource& w, bool stored) {
  if (Status s = ReadWorkloadSpec(reader, w); !s) return s;
  if (Status s = ReadWorkspace(reader, w.workspace); !s) return s;
  if (w.workspace.IsSet() && w.spec.kind != core::WorkloadKind::kInteractive) {
    return Error::Coded("invalid",
                        "workspace: a workspace is interactive work: give kind interactive",
                        "workspace");
  }
  if (w.workspace.IsSet() && w.spec.tasks != 1) {
    return Error::Coded("invalid", "workspace: a workspace runs one task: drop workers",
                        "workspace");
  }
  if (w.workspace.jupyter && !w.command.empty()) {
    return Error::Coded("invalid",
                        "command: a Jupyter workspace starts Jupyter itself: drop the command, or "
                        "give the port your command listens on instead of jupyter",
                        "command");
  }
  if (stored) {
    if (Status s = ReadReplica(reader, w.replica); !s) return s;
  }
  return ReadTaskRuntime(reader, w.runtime, stored);
}

}  // namespace

Status CheckName(const std::string& name, const std::string& field) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 63 && alnum(name.front()) && alnum(name.back());
  for (char c : name) ok = ok && (alnum(c) || c == '-');
  if (ok) return Status::Ok();
  return Error::Coded("invalid",
                      field + ": '" + name +
                          "' is not a valid name: use 1 to 63 lowercase letters, digits and '-', "
                          "starting and ending with a letter or digit",
                      field);
}

constexpr std::array<const char*, 8> kTaskStateNames = {
    "", "starting", "running", "exited", "killed", "failed_to_start", "lost", "waiting"};

const char* TaskStateName(TaskState state) {
  return kTaskStateNames[static_cast<size_t>(state)];
}

std::optional<TaskState> ParseTaskState(const std::string& text) {
  for (size_t i = 0; i < kTaskStateNames.size(); ++i) {
    if (text == kTaskStateNames[i]) return static_cast<TaskState>(i);
  }
  return std::nullopt;
}

bool IsFinalTaskState(TaskState state) {
  return state == TaskState::kExited || state == TaskState::kKilled ||
         state == TaskState::kFailedToStart || state == TaskState::kLost;
}

const char* IdleActionName(IdleAction action) {
  return action == IdleAction::kPreempt ? "preempt" : "stop";
}

const char* NodeStateName(NodeState state) {
  return state == NodeState::kLost ? "lost" : "ready";
}

const char* StatusName(WorkloadStatus status) {
  return kStatusNames[static_cast<size_t>(status)];
}

std::optional<WorkloadStatus> ParseStatus(const std::string& text) {
  for (size_t i = 0; i < kStatusNames.size(); ++i) {
    if (text == kStatusNames[i]) return static_cast<WorkloadStatus>(i);
  }
  return std::nullopt;
}

void ReleaseTask(TaskAssignment& task) {
  if (!task.node.empty()) task.previous_node = task.node;
  task.node.clear();
  task.gpus.clear();
  task.not_before_ms = 0;
  task.ready = false;
  task.ready_reason.clear();
}

void BindTask(TaskAssignment& task, std::string node, std::vector<int32_t> gpus) {
  task.node = std::move(node);
  task.gpus = std::move(gpus);
  ++task.attempt;
  task.state = TaskState::kNone;
  task.pid = 0;
  task.exit_code = 0;
  task.reason.clear();
  task.started_ms = 0;
  task.finished_ms = 0;
  task.not_before_ms = 0;
  task.ready = false;
  task.ready_reason.clear();
}

bool IsActive(WorkloadStatus status) {
  return status == WorkloadStatus::kPending || status == WorkloadStatus::kRunning ||
         status == WorkloadStatus::kEvicted;
}

Result<WorkloadResource> DecodeWorkloadSubmission(const json& body) {
  JsonReader reader(body);
  WorkloadResource workload;
  if (Status s = ReadWorkload(reader, workload, false); !s) return s.error();
  if (Status s = reader.Finish(); !s) return s.error();
  workload.assignments.resize(static_cast<size_t>(workload.spec.tasks));
  return workload;
}

Result<WorkloadResource> DecodeStoredWorkload(const std::string& body) {
  Result<json> parsed = ParseJsonObject(body);
  if (!parsed) return parsed.error();
  JsonReader reader(*parsed);
  WorkloadResource workload;
  if (Status s = ReadWorkload(reader, workload, true); !s) return s.error();
  std::string status = "pending";
  if (Status s = reader.String("owner", workload.owner); !s) return s.error();
  if (Status s = reader.String("status", status); !s) return s.error();
  auto parsed_status = ParseStatus(status);
  if (!parsed_status) return Error::Coded("internal", "stored workload has status " + status);
  workload.status = *parsed_status;
  if (Status s = reader.String("pending_reason", workload.pending_reason); !s) return s.error();
  if (Status s = reader.String("reason", workload.reason); !s) return s.error();
  if (Status s = reader.Int("created_ms", workload.created_ms, 0, INT64_MAX); !s) {
    return s.error();
  }
  workload.spec.submitted_at = workload.created_ms;
  workload.assignments.resize(static_cast<size_t>(workload.spec.tasks));
  if (const json* tasks = reader.Find("assignments"); tasks && tasks->is_array()) {
    for (size_t i = 0; i < tasks->size() && i < workload.assignments.size(); ++i) {
      const json& task = (*tasks)[i];
      TaskAssignment& out = workload.assignments[i];
      out.node = task.value("node", "");
      out.gpus = task.value("gpus", std::vector<int32_t>{});
      out.attempt = task.value("attempt", 0);
      out.previous_node = task.value("previous_node", "");
      out.state = ParseTaskState(task.value("state", "")).value_or(TaskState::kNone);
      out.pid = task.value("pid", 0);
      out.exit_code = task.value("exit_code", 0);
      out.reason = task.value("reason", "");
      out.started_ms = task.value("started_ms", int64_t{0});
      out.finished_ms = task.value("finished_ms", int64_t{0});
      out.ready = task.value("ready", false);
      out.ready_reason = task.value("ready_reason", "");
      out.restarts = task.value("restarts", 0);
      out.not_before_ms = task.value("not_before_ms", int64_t{0});
    }
  }
  return workload;
}

json EncodeWorkload(const WorkloadResource& w) {
  const core::WorkloadSpec& spec = w.spec;
  json out = {{"name", spec.name},
              {"project", spec.queue},
              {"kind", core::WorkloadKindName(spec.kind)},
              {"workers", spec.tasks},
              {"min_workers", spec.min_tasks},
              {"priority", spec.priority},
              {"preemptible", spec.preemptible}};
  if (spec.request.gpu_milli > 0) out["gpu"] = FormatMilli(spec.request.gpu_milli);
  if (spec.request.gpu_memory_mib > 0) {
    out["gpu_memory"] = FormatMebibytes(spec.request.gpu_memory_mib);
  }
  if (w.gpu_milli_limit > 0) out["gpu_limit"] = FormatMilli(w.gpu_milli_limit);
  if (w.gpu_memory_limit_mib > 0) out["gpu_memory_limit"] = FormatMebibytes(w.gpu_memory_limit_mib);
  out["cpu"] = FormatMillicores(spec.request.cpu_milli);
  out["memory"] = FormatMebibytes(spec.request.memory_mib);
  if (!spec.gpu_models.empty()) out["gpu_models"] = spec.gpu_models;
  if (!spec.node_selector.empty()) out["node_selector"] = spec.node_selector;
  if (!spec.pools.empty()) out["pools"] = spec.pools;
  if (!spec.topology.required.empty() || !spec.topology.preferred.empty()) {
    json topology = json::object();
    if (!spec.topology.required.empty()) topology["required"] = spec.topology.required;
    if (!spec.topology.preferred.empty()) topology["preferred"] = spec.topology.preferred;
    out["topology"] = topology;
  }
  if (spec.max_runtime) out["max_runtime"] = FormatDurationMs(*spec.max_runtime);
  if (!w.env.empty()) out["env"] = w.env;
  out["command"] = w.command;
  out["owner"] = w.owner;
  out["status"] = StatusName(w.status);
  out["pending_reason"] = w.pending_reason;
  json assignments = json::array();
  for (const auto& task : w.assignments) {
    json item = {{"node", task.node}, {"gpus", task.gpus}, {"attempt", task.attempt}};
    // The agent's report and restart bookkeeping, only once there is some.
    if (!task.previous_node.empty()) item["previous_node"] = task.previous_node;
    if (task.state != TaskState::kNone) item["state"] = TaskStateName(task.state);
    if (task.pid != 0) item["pid"] = task.pid;
    if (task.state == TaskState::kExited) item["exit_code"] = task.exit_code;
    if (!task.reason.empty()) item["reason"] = task.reason;
    if (task.started_ms != 0) item["started_ms"] = task.started_ms;
    if (task.finished_ms != 0) item["finished_ms"] = task.finished_ms;
    if (task.ready) item["ready"] = true;
    if (!task.ready_reason.empty()) item["ready_reason"] = task.ready_reason;
    if (task.restarts != 0) item["restarts"] = task.restarts;
    if (task.not_before_ms != 0) item["not_before_ms"] = task.not_before_ms;
    assignments.push_back(std::move(item));
  }
  out["assignments"] = assignments;
  if (!w.reason.empty()) out["reason"] = w.reason;
  out["grace_period_s"] = w.grace_period_s;
  out["max_restarts"] = w.max_restarts;
  EncodeTaskRuntime(w.runtime, out);
  EncodeWorkspace(w.workspace, out);
  EncodeReplica(w.replica, out);
  out["created_ms"] = w.created_ms;
  return out;
}

Result<NodeResource> DecodeNode(const json& body) {
  JsonReader reader(body);
  NodeResource node;
  core::NodeSpec& spec = node.spec;
  if (Status s = reader.String("name", spec.name, true); !s) return s.error();
  if (Status s = CheckName(spec.name); !s) return s.error();
  if (Status s = reader.String("pool", spec.pool); !s) return s.error();
  if (Status s = reader.StringMap("labels", spec.labels); !s) return s.error();
  if (Status s = reader.Quantity("cpu", spec.cpu_milli, ParseMillicores); !s) return s.error();
  if (Status s = reader.Quantity("memory", spec.memory_mib, ParseMebibytes); !s) return s.error();
  if (Status s = reader.Bool("simulated", node.simulated); !s) return s.error();
  std::string state = "ready";
  if (Status s = reader.String("state", state); !s) return s.error();
  for (auto [key, out] : {std::pair{"agent", &node.agent},
                          {"address", &node.address},
                          {"logs_url", &node.logs_url},
                          {"boot_id", &node.boot_id},
                          {"agent_version", &node.agent_version}}) {
    if (Status s = reader.String(key, *out); !s) return s.error();
  }
  std::string simulate;
  if (Status s = reader.String("simulate_gpus", simulate); !s) return s.error();
  const json* gpus = reader.Find("gpus");
  if (Status s = reader.Finish(); !s) return s.error();
  if (spec.cpu_milli <= 0 || spec.memory_mib <= 0) {
    return Error::Coded("invalid", "cpu and memory must be given and above 0",
                        spec.cpu_milli <= 0 ? "cpu" : "memory");
  }
  if (state != "ready" && state != "lost") {
    return Error::Coded("invalid", "state: use ready or lost", "state");
  }
  node.state = state == "lost" ? NodeState::kLost : NodeState::kReady;
  if (!simulate.empty()) {
    if (gpus) return Error::Coded("invalid", "give gpus or simulate_gpus, not both", "gpus");
    auto simulated = ParseSimulatedGpus(simulate, spec.name);
    if (!simulated) return simulated.error();
    spec.gpus = std::move(*simulated);
    node.simulated = true;
  } else if (gpus) {
    if (!gpus->is_array()) return Error::Coded("invalid", "gpus: expected a list", "gpus");
    for (size_t i = 0; i < gpus->size(); ++i) {
      std::string prefix = "gpus[" + std::to_string(i) + "].";
      if (!(*gpus)[i].is_object()) return Error::Coded("invalid", prefix + ": expected an object");
      JsonReader gpu_reader((*gpus)[i], prefix);
      core::GpuSpec gpu;
      gpu.index = static_cast<int32_t>(i);
      if (Status s = gpu_reader.Int32("index", gpu.index, 0, 1023); !s) return s.error();
      if (Status s = gpu_reader.String("uuid", gpu.uuid, true); !s) return s.error();
      if (Status s = gpu_reader.String("model", gpu.model, true); !s) return s.error();
      if (Status s = gpu_reader.Quantity("memory", gpu.memory_mib, ParseMebibytes); !s) {
        return s.error();
      }
      if (Status s = gpu_reader.Finish(); !s) return s.error();
      if (gpu.memory_mib <= 0) {
        return Error::Coded("invalid", prefix + "memory must be above 0", prefix + "memory");
      }
      spec.gpus.push_back(gpu);
    }
  }
  return node;
}

json EncodeNode(const NodeResource& node) {
  const core::NodeSpec& spec = node.spec;
  json gpus = json::array();
  for (const auto& gpu : spec.gpus) {
    gpus.push_back({{"index", gpu.index},
                    {"uuid", gpu.uuid},
                    {"model", gpu.model},
                    {"memory", FormatMebibytes(gpu.memory_mib)}});
  }
  json out = {{"name", spec.name},
              {"pool", spec.pool},
              {"labels", spec.labels},
              {"cpu", FormatMillicores(spec.cpu_milli)},
              {"memory", FormatMebibytes(spec.memory_mib)},
              {"gpus", gpus},
              {"simulated", node.simulated},
              {"state", NodeStateName(node.state)}};
  for (auto [key, value] : {std::pair{"agent", &node.agent},
                            {"address", &node.address},
                            {"logs_url", &node.logs_url},
                            {"boot_id", &node.boot_id},
                            {"agent_version", &node.agent_version}}) {
    if (!value->empty()) out[key] = *value;
  }
  return out;
}

Result<std::vector<core::GpuSpec>> ParseSimulatedGpus(const std::string& text,
                                                      const std::string& node_name) {
  auto fail = [&] {
    return Error::Coded(
        "invalid",
        "simulate_gpus: '" + text + "' is not COUNTxMODEL-MEMORY: use a form like 4xA100-80GB",
        "simulate_gpus");
  };
  size_t x = text.find('x');
  size_t dash = text.rfind('-');
  if (x == std::string::npos || x == 0 || dash == std::string::npos || dash < x + 2) return fail();
  int count = 0;
  for (size_t i = 0; i < x; ++i) {
    if (text[i] < '0' || text[i] > '9') return fail();
    count = count * 10 + (text[i] - '0');
    if (count > 64) return fail();
  }
  std::string memory = text.substr(dash + 1);
  if (memory.size() < 3 || memory.substr(memory.size() - 2) != "GB") return fail();
  Result<int64_t> gib = ParseMilli(memory.substr(0, memory.size() - 2));
  if (!gib || *gib <= 0 || *gib % 1000 != 0 || count == 0) return fail();
  constexpr int64_t kMaxSimulatedGib = 4096;
  if (*gib / 1000 > kMaxSimulatedGib) {
    return Error::Coded("invalid",
                        "simulate_gpus: '" + text + "' gives each GPU more than " +
                            std::to_string(kMaxSimulatedGib) + "GB: use a real size like 80GB",
                        "simulate_gpus");
  }
  std::vector<core::GpuSpec> gpus;
  for (int i = 0; i < count; ++i) {
    gpus.push_back({i, "GPU-sim-" + node_name + "-" + std::to_string(i), text.substr(x + 1),
                    *gib / 1000 * 1024});
  }
  return gpus;
}

}  // namespace allot::wire
