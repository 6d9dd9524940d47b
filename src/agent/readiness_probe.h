// Whether a service replica is ready for traffic (docs/serving.md §1): its
// port accepts a connection and, when the service names a ready path, a
// GET of it answers 2xx or 3xx within the timeout. The agent probes its
// replicas and reports the result with the task's state; only ready
// replicas get requests.
#pragma once

#include <string>

namespace allot::agent {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not, in words
};

// Probes the task in `dir` (its network and its user, as ConnectToTask).
Readiness ProbeReadiness(const std::string& dir, int port, const std::string& ready_path,
                         int timeout_ms);

// A TCP port of the node's loopback that is free now, for a host replica's
// PORT; 0 when none could be found.
int PickFreePort();

}  // namespace allot::agent
