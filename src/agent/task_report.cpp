#include "agent/task_report.h"

#include "agent/readiness_probe.h"
#include "agent/task_files.h"

namespace allot::agent {

using nlohmann::json;

bool ReportTask(HttpClient& client, LocalTask& task,
                const std::function<void(const std::string&)>& say) {
  const ObservedTask& observed = task.observed;
  std::string key = task.ReportKey();
  if (observed.state == "starting" || task.acknowledged == key) return true;
  const json& spec = task.spec;
  json body = {{"node", spec.value("node", "")},
               {"attempt", spec.value("attempt", 0)},
               {"state", observed.state}};
  if (observed.pid != 0) body["pid"] = observed.pid;
  if (observed.state == "exited") body["exit_code"] = observed.exit_code;
  if (observed.state == "killed") body["signal"] = observed.signal;
  if (!observed.reason.empty()) body["reason"] = observed.reason;
  if (observed.time_ms != 0) body["time_ms"] = observed.time_ms;
  if (task.Probed() && observed.state == "running") {
    body["ready"] = task.ready;
    if (!task.ready) body["ready_reason"] = task.ready_reason;
  }
  std::string what = spec.value("workload", "") + " task " + std::to_string(spec.value("task", 0));
  std::string path = "/api/v1/workloads/" + spec.value("workload", "") + "/tasks/" +
                     std::to_string(spec.value("task", 0)) + "/status";
  Result<json> reply = client.Call("PUT", path, &body);
  // The server's store may be away for a moment (PostgreSQL restarting):
  // "unavailable" is sent again too.
  if (!reply && (reply.error().code == "unreachable" || reply.error().code == "internal" ||
                 reply.error().code == "unavailable")) {
    return false;
  }
  // Acknowledged, or refused for good (stale attempt, workload gone):
  // either way the server has nothing more to learn from this state.
  // Unrecorded on disk, it is sent again after a restart: harmless.
  if (!reply) {
    say("the server refused the report of " + what + " (" + observed.state +
        "): " + reply.error().message);
  }
  task.acknowledged = key;
  (void)WriteFileAtomically(task.dir + "/reported", key);
  if (observed.Final()) {
    std::string line =
        what + " attempt " + std::to_string(spec.value("attempt", 0)) + " " + observed.state;
    if (observed.state == "exited") line += " with code " + std::to_string(observed.exit_code);
    if (!observed.reason.empty()) line += ": " + observed.reason;
    say(line);
  }
  return true;
}

void ProbeReplica(LocalTask& task, int64_t now_ms) {
  if (now_ms < task.next_probe_ms) return;
  Readiness probed = ProbeReadiness(task.dir, task.spec.value("serve_port", 0),
                                    task.spec.value("ready_path", ""), 1000);
  if (probed.ready) {
    task.ready = true;
    task.failed_probes = 0;
    task.ready_reason.clear();
  } else if (!task.ready || ++task.failed_probes >= 2) {
    task.ready = false;
    task.ready_reason = probed.reason;
  }
  // Fast while it may be starting; slower for one that never gets ready.
  task.next_probe_ms = WallMs() + (task.ready ? 1000 : FastProbing(task, now_ms) ? 20 : 500);
}

bool FastProbing(const LocalTask& task, int64_t now_ms) {
  return !task.ready && now_ms - task.observed.time_ms < 30000;
}

}  // namespace allot::agent
