// The cluster's status after a cycle's plan (kind "status", name "cluster"),
// which `allot top`, the dashboard and the metrics read: totals; per queue
// deserved, fair share and allocated GPUs (of its whole subtree, and per GPU
// model where some queue declares per-model quota) and pending workloads;
// per node pool and GPU model, GPUs and allocated GPUs.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/plan.h"
#include "core/snapshot.h"
#include "wire/resources.h"

namespace allot::server {

// What one cycle read, as the status needs it.
struct StatusInput {
  const core::Snapshot& snapshot;                     // the queues and the ready nodes
  const std::vector<bool>& queue_is_project;          // per snapshot queue
  const std::map<std::string, uint32_t>& node_index;  // node name -> snapshot node
};

// The status document; `after` holds the active workloads as written back.
nlohmann::json ClusterStatus(const StatusInput& input, const core::Plan& plan,
                             const std::vector<wire::WorkloadResource>& after);

}  // namespace allot::server
