// The quota rules that hold whatever the action (architecture.md §4.2): no queue
// goes past its limit, and non-preemptible work stays within deserved quota
// at every level of the tree (per GPU model too, where one is declared).
#pragma once

#include <string>
#include <vector>

#include "sched/cluster_state.h"

namespace allot::sched {

// Why giving workload w `add` more would break a limit on its queue's path,
// or, for non-preemptible work, a deserved quota; empty when it may. For
// non-preemptible work GPUs are always checked against deserved; GPU memory,
// CPU and memory only at queues that set a non-zero deserved amount of them.
std::string QuotaBlocker(const ClusterState& state, uint32_t w, const Resources& add);

// GPU models (ids into state.models()) that workload w may not use, because
// `gpu_milli` more of that model would take a queue on its path past its
// per-model limit, or (non-preemptible work only) past the per-model
// deserved quota it declares.
std::vector<uint16_t> ModelsOverQuota(const ClusterState& state, uint32_t w, int64_t gpu_milli);
// Why those models are excluded, in words, for the pending reason: the
// first queue and model whose limit (or deserved, for non-preemptible work)
// would be passed; "" when none is.
std::string ModelQuotaReason(const ClusterState& state, uint32_t w, int64_t gpu_milli);

// The resources that decide reclaim for a request: GPUs for GPU work,
// otherwise CPU and memory.
std::vector<core::Resource> ContestedResources(const core::TaskRequest& request);

}  // namespace allot::sched
