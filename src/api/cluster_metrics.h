// The gauges /metrics computes at each scrape from what the store holds
// (the scheduling loop's last cluster status) and from the GPU usage the
// agents last reported: per queue deserved, fair share and allocated GPUs,
// workloads by state, GPUs by node pool and model, per-GPU utilization,
// per-workload utilization and idle time.
// Computed, not kept, so that they always agree with the API.
#pragma once

#include <string>

#include "server/node_liveness.h"
#include "server/workload_usage.h"
#include "store/store.h"

namespace allot::api {

// The gauges in the Prometheus text format; empty before the first cycle.
std::string ClusterMetricsText(store::Store& store, const server::NodeLiveness& liveness,
                               const server::WorkloadUsage& workload_usage, int64_t now_ms);

}  // namespace allot::api
