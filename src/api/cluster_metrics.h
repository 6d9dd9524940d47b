// The gauges /metrics computes at each scrape from what the store holds
// (the scheduling loop's last cluster status) and from the GPU usage the
// agents last reported: per queue deserved, fair share and allocated GPUs,
// workloads by state, GPUs by node pool and model, per-GPU utilization,
// per-workload utilization and idle time.
// Computed, not kept, so that they always agree with the API.
#pragma once

#include <map>
#include <string>

#include "server/node_liveness.h"
#include "server/service_traffic.h"
#include "server/serving_controller.h"
#include "server/workload_usage.h"
#include "store/store.h"

namespace allot::api {

// The gauges in the Prometheus text format; empty before the first cycle.
std::string ClusterMetricsText(store::Store& store, const server::NodeLiveness& liveness,
                               const server::WorkloadUsage& workload_usage, int64_t now_ms);

// Per inference service: replicas desired, ready and draining, requests in
// flight, whether its autoscaler panics (docs/serving.md §5).
std::string ServiceMetricsText(const std::map<std::string, server::ServiceState>& states,
                               const server::ServiceTraffic& traffic, int64_t now_ms);

}  // namespace allot::api
