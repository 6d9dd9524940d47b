#include "sched/quota_check.h"

namespace allot::sched {

std::string QuotaBlocker(const ClusterState& state, uint32_t w, const Resources& add) {
  const auto& spec = state.spec(w);
  const auto& queues = state.snapshot().queues;
  for (uint32_t q = state.workload(w).queue; q != kNone; q = state.queue(q).parent) {
    const QueueState& qs = state.queue(q);
    for (core::Resource r : core::kAllResources) {
      if (add[r] == 0) continue;
      if (qs.allocated[r] + add[r] > qs.limit[r]) {
        return "queue '" + queues[q].name + "' would exceed its limit: " + core::ResourceName(r) +
               " " + core::FormatAmount(r, qs.allocated[r]) + " + " +
               core::FormatAmount(r, add[r]) + " > limit " + core::FormatAmount(r, qs.limit[r]);
      }
      // GPUs always count; other resources only where the queue sets a
      // deserved amount for them (0 there means "not part of the quota").
      bool guarded = r == core::Resource::kGpu || qs.deserved[r] > 0;
      if (!spec.preemptible && guarded &&
          qs.allocated_nonpreemptible[r] + add[r] > qs.deserved[r]) {
        return "non-preemptible workload would exceed the deserved quota of queue '" +
               queues[q].name + "': " + core::ResourceName(r) + " " +
               core::FormatAmount(r, qs.allocated_nonpreemptible[r]) + " + " +
               core::FormatAmount(r, add[r]) + " > deserved " +
               core::FormatAmount(r, qs.deserved[r]) + "; only preemptible work may go over quota";
      }
    }
  }
  return {};
}

std::vector<uint16_t> ModelsOverQuota(const ClusterState& state, uint32_t w, int64_t gpu_milli) {
  std::vector<uint16_t> excluded;
  if (state.tracked_models().empty()) return excluded;
  bool preemptible = state.workload(w).preemptible;
  const auto& models = state.models();
  for (size_t m = 0; m < state.tracked_models().size(); ++m) {
    bool over = false;
    for (uint32_t q = state.workload(w).queue; q != kNone && !over; q = state.queue(q).parent) {
      const QueueState& qs = state.queue(q);
      over = qs.model_allocated[m] + gpu_milli > qs.model_limit[m];
      const auto& declared = state.snapshot().queues[q].deserved_gpu_by_model;
      if (preemptible || over || declared.count(state.tracked_models()[m]) == 0) continue;
      over = qs.model_nonpreemptible[m] + gpu_milli > qs.model_deserved[m];
    }
    if (!over) continue;
    for (size_t id = 0; id < models.size(); ++id) {
      if (models[id] == state.tracked_models()[m]) excluded.push_back(static_cast<uint16_t>(id));
    }
  }
  return excluded;
}

std::string ModelQuotaReason(const ClusterState& state, uint32_t w, int64_t gpu_milli) {
  bool preemptible = state.workload(w).preemptible;
  const auto& queues = state.snapshot().queues;
  auto gpus = [](int64_t milli) { return core::FormatAmount(core::Resource::kGpu, milli); };
  for (size_t m = 0; m < state.tracked_models().size(); ++m) {
    const std::string& model = state.tracked_models()[m];
    for (uint32_t q = state.workload(w).queue; q != kNone; q = state.queue(q).parent) {
      const QueueState& qs = state.queue(q);
      if (qs.model_allocated[m] + gpu_milli > qs.model_limit[m]) {
        return "queue '" + queues[q].name + "' is at its limit of " + gpus(qs.model_limit[m]) +
               " " + model + " GPUs (holds " + gpus(qs.model_allocated[m]) + ")";
      }
      if (!preemptible && queues[q].deserved_gpu_by_model.count(model) > 0 &&
          qs.model_nonpreemptible[m] + gpu_milli > qs.model_deserved[m]) {
        return "non-preemptible work of queue '" + queues[q].name + "' is at its deserved " +
               gpus(qs.model_deserved[m]) + " " + model + " GPUs";
      }
    }
  }
  return "";
}

std::vector<core::Resource> ContestedResources(const core::TaskRequest& request) {
  if (request.UsesGpu()) return {core::Resource::kGpu};
  return {core::Resource::kCpu, core::Resource::kMemory};
}

}  // namespace allot::sched
