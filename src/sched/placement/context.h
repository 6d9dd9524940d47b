// What placement knows about the task it is placing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sched/cluster_state.h"

namespace allot::sched {

struct PlacementContext {
  uint32_t workload = 0;
  // GPU models this task may not use on top of the workload's own list
  // (models whose per-model quota a non-preemptible workload would exceed).
  std::vector<uint16_t> excluded_models;
  // When set, every task must land on a node whose label `domain_level`
  // equals `domain_value` (a required or preferred topology domain).
  std::string domain_level;
  std::string domain_value;
  // Nodes that already hold tasks of this workload: gang members are kept
  // close to them.
  std::vector<uint32_t> member_nodes;
  // When the task will have ended at the latest (now + max runtime), or
  // kNever. Only work that ends before a reservation is needed may use
  // reserved GPUs.
  Time ends_by = core::kNever;
  // Which of the workload's pools (spec.pools) the task must land in: an
  // index into them, or -1 for any of them (or any pool when it lists none).
  int32_t pool_choice = -1;
  // A node the task must not use (consolidation moves a task elsewhere).
  uint32_t excluded_node = kNone;
};

// Why a node was rejected, for the pending reason.
enum class FilterFailure {
  kPass = 0,
  kGpu,
  kCpu,
  kMemory,
  kGpuModel,
  kLabels,
  kTopology,
  kReserved,
  kPool,
  kCount
};

}  // namespace allot::sched
