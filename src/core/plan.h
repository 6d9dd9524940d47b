// The scheduler core's output for one cycle.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/resources.h"
#include "core/time.h"
#include "core/workload.h"

namespace allot::core {

// One task of one workload, by index into the snapshot.
struct TaskRef {
  uint32_t workload = 0;
  uint32_t task = 0;
  friend bool operator==(const TaskRef&, const TaskRef&) = default;
};

struct Bind {
  TaskRef task;
  Placement placement;
};

// Which action evicted a task: what an admin counts separately (a reclaim
// is quota working as promised; a preemption is priority inside a queue; a
// consolidation move runs on elsewhere in the same plan).
enum class EvictionKind : uint8_t {
  kReclaim,      // taken back for a queue below its fair share (architecture.md §4.4)
  kPreempt,      // taken for higher-priority work of the same queue (§4.5)
  kConsolidate,  // moved to clear room for a fragmented task (§4.6)
  kGangRestart,  // a gang fell below its minimum and restarts whole
};
inline constexpr int kEvictionKinds = 4;

// The kind as a lowercase word for metrics and files: "reclaim", "preempt",
// "consolidate", "gang_restart".
const char* EvictionKindName(EvictionKind kind);

struct Eviction {
  TaskRef task;
  std::string reason;  // why, in plain words: "reclaimed by queue 'q1' for 'w7'"
  EvictionKind kind = EvictionKind::kPreempt;
};

// GPUs held for a starving gang while running work drains from them.
struct Reservation {
  uint32_t workload = 0;
  std::vector<std::pair<uint32_t, int32_t>> node_gpus;  // node index, whole GPUs held
  Time needed_at = kNever;  // when the held GPUs are expected to suffice
};

struct Plan {
  // Carried out in this order: evictions, then binds. A task that appears in
  // both is moved (consolidation).
  std::vector<Eviction> evictions;
  std::vector<Bind> binds;
  // Per workload (snapshot order): why it is (partly) pending after this
  // plan; empty when all its tasks are placed.
  std::vector<std::string> pending_reasons;
  // Per queue (snapshot order): the fair share computed this cycle, and the
  // per-model fair share for models some queue declares quota for.
  std::vector<Resources> fair_share;
  std::vector<std::vector<std::pair<std::string, int64_t>>> fair_share_by_model;
  std::vector<Reservation> reservations;
};

}  // namespace allot::core
