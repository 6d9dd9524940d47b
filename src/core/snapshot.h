// The scheduler core's input: the whole cluster at one instant. A snapshot is
// plain data; ValidateSnapshot() says whether the core can schedule it.
#pragma once

#include <vector>

#include "common/result.h"
#include "core/node.h"
#include "core/queue.h"
#include "core/time.h"
#include "core/workload.h"

namespace allot::core {

struct Snapshot {
  Time now = 0;
  std::vector<NodeSpec> nodes;
  // Parents before children is not required; names are the links.
  std::vector<QueueSpec> queues;
  std::vector<Workload> workloads;
};

// Checks everything the scheduler relies on and names the first problem.
// Error::field is a path a loader can map back to its input:
//   "nodes/<name>", "queues/<name>/<field>", "workloads/<name>/<field>".
// Checked: unique names; every parent and queue exists; no cycle in the
// tree; no negative quota; deserved within limit; children's deserved within
// their parent's (also per GPU model); workloads only on leaves; 1 <= min <=
// tasks; a fraction only on a one-GPU task; every placement on a node and
// GPUs that exist, with the GPU count the task asks for, and no GPU, CPU or
// memory over-allocated by the placements together.
Status ValidateSnapshot(const Snapshot& snapshot);

}  // namespace allot::core
