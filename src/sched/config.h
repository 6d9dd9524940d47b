// The scheduler's settings. Every one has a default that suits a shared GPU
// cluster; the scenario runner and the server can override them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"

namespace allot::sched {

struct SchedulerConfig {
  // The actions of one cycle, in order (architecture.md §4). Any subset, any order.
  std::vector<std::string> actions = {"allocate", "consolidate", "reclaim", "preempt",
                                      "stale-gang"};
  // How long a running gang may stay below its minimum before it is evicted.
  core::Duration stale_gang_grace = 60 * core::kSecond;
  // How long a gang waits before it reserves GPUs as they free up.
  core::Duration reservation_after = 30 * core::kMinute;
  // How many starving gangs hold reservations at once.
  int32_t max_reservations = 1;
  // How long preemptible work runs before reclaim or preemption inside its
  // queue may evict it (Slurm's PreemptExemptTime; 0: at once). Consolidation
  // and stale-gang eviction are not affected.
  core::Duration min_runtime = 0;
  // How many running workloads consolidation may move in one cycle.
  int32_t consolidation_max_moves = 8;
};

// The names SchedulerConfig::actions accepts.
const std::vector<std::string>& KnownActions();

}  // namespace allot::sched
