// What the serving controller does to a service's replicas to reach the
// autoscaler's count (docs/serving.md §4), and the rolling update: replicas
// of an older generation are replaced one at a time, a new one first (a
// surge of one), the old one drained only once the new one is ready, so
// that the service never has fewer ready replicas than before. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace allot::server {

// An active replica (pending or running), not draining.
struct ReplicaView {
  std::string name;
  int64_t generation = 0;
  bool ready = false;
  int64_t created_ms = 0;
};

struct ReplicaActions {
  int32_t create = 0;              // new replicas of the service's generation
  std::vector<std::string> drain;  // replicas to take out of rotation and end
};

// `desired`: the autoscaler's count; `generation`: the service's now.
ReplicaActions PlanReplicas(int32_t desired, int64_t generation,
                            const std::vector<ReplicaView>& replicas);

}  // namespace allot::server
