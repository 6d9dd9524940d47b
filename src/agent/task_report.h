// A task directory as the agent's reconcile thread knows it, and the two
// things it does with one each pass: report its state to the server until
// the server has taken it (docs/agent-protocol.md §4), and probe a service
// replica's readiness (readiness_probe.h).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

#include "agent/local_tasks.h"
#include "common/http_client.h"

namespace allot::agent {

// Its spec (read once), the last observation, and the last state the
// server took.
struct LocalTask {
  std::string dir;
  nlohmann::json spec;
  ObservedTask observed;
  std::string acknowledged;  // mirrors DIR/reported
  // A service replica's readiness.
  bool ready = false;
  std::string ready_reason;
  int failed_probes = 0;
  int64_t next_probe_ms = 0;
  bool Probed() const { return spec.value("serve_port", 0) > 0; }
  // What the server last took: the state, and a replica's readiness.
  std::string ReportKey() const {
    if (!Probed() || observed.state != "running") return observed.state;
    return observed.state + (ready ? "+ready" : "+unready");
  }
  // Ended and acknowledged: nothing changes any more, so it is not
  // observed again (only removed once old).
  bool Settled() const {
    return !observed.state.empty() && observed.Final() && acknowledged == observed.state;
  }
};

// Sends the task's state when the server has not acknowledged it yet;
// `say` gets the progress lines (a final state, a refusal). False when the
// server could not take it now (unreachable, its store away): sent again
// later, in order.
bool ReportTask(HttpClient& client, LocalTask& task,
                const std::function<void(const std::string&)>& say);

// Probes a running replica when it is due: often until it is ready (a cold
// start waits on it), then once a second; two failures in a row take a
// ready one out.
void ProbeReplica(LocalTask& task, int64_t now_ms);
// Whether the replica is probed fast now (it may be starting).
bool FastProbing(const LocalTask& task, int64_t now_ms);

}  // namespace allot::agent
