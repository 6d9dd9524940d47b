// What an agent's session does to the control plane once its request is
// authenticated and decoded (docs/agent-protocol.md §3-4): a heartbeat
// keeps its node alive, records the GPU use of the node and of the tasks
// that run there, and brings a lost node back; a task report changes the
// task and its workload (task_lifecycle.h), written with its events.
// Registration stays with the API's agent routes: it issues credentials.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "server/node_liveness.h"
#include "server/workload_usage.h"
#include "store/store.h"
#include "wire/heartbeat.h"
#include "wire/resources.h"
#include "wire/task_report.h"

namespace allot::server {

class AgentSessions {
 public:
  // `on_change` wakes the scheduling loop (may be empty).
  AgentSessions(store::Store& store, std::function<int64_t()> now_ms, NodeLiveness& liveness,
                WorkloadUsage& workload_usage, AgentTimings timings,
                std::function<void()> on_change);

  // A heartbeat of `node` (as stored): it is heard now, with these GPU and
  // task readings (a task's only while it runs on this node). Returns the
  // writes that bring a lost node back (ready again, a NodeReady event), for
  // the caller to commit with the request's audit entry; none otherwise.
  std::vector<store::Write> Heartbeat(wire::NodeResource& node, int64_t revision,
                                      std::vector<wire::GpuUsageSample> gpus,
                                      const std::vector<wire::TaskUsageReport>& tasks);

  struct ReportResult {
    wire::WorkloadStatus status = wire::WorkloadStatus::kPending;
    int64_t revision = 0;  // 0: nothing changed, nothing written
  };
  // Applies `report` about task `task` of `workload` and writes the result
  // with its events, again when the scheduling loop wrote the workload
  // meanwhile. A report about an attempt that is not the task's current one
  // is a "conflict" (its end is still recorded as an event).
  Result<ReportResult> ReportTask(const std::string& workload, int32_t task,
                                  const wire::TaskReport& report);

 private:
  store::Store& store_;
  std::function<int64_t()> now_ms_;
  NodeLiveness& liveness_;
  WorkloadUsage& workload_usage_;
  AgentTimings timings_;
  std::function<void()> on_change_;
};

}  // namespace allot::server
