// Synthetic clusters for the benchmarks and the property tests.
#pragma once

#include <cstdint>

#include "core/snapshot.h"

namespace allot::bench {

// N nodes of 8 H100-80GB GPUs, 128 cores, 1 TiB each.
void AddGpuNodes(core::Snapshot& snap, int64_t count);

// The reclaim case: queue-0 (deserved 0, weight 0) runs one 1-GPU
// preemptible training workload on every GPU; queue-1 (deserved all GPUs)
// has one pending gang of nodes/10 tasks x 8 GPUs.
core::Snapshot ReclaimCluster(int64_t nodes);

// The cycle case: 10 departments x 10 projects, the GPUs nearly full of
// fractions, 1-GPU workloads and 4- and 16-GPU gangs, plus `pending`
// pending workloads of the same shapes.
core::Snapshot BusyCluster(int64_t nodes, int64_t pending, uint64_t seed);

// The place case: an empty cluster and `tasks` pending one-GPU and
// fractional single-task workloads in one queue.
core::Snapshot EmptyClusterWithTasks(int64_t nodes, int64_t tasks, uint64_t seed);

}  // namespace allot::bench
