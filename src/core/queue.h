// The quota tree (architecture.md §3): departments and projects of any depth. Only
// leaves hold workloads. Every queue has, per resource, a deserved
// (guaranteed) amount, an optional limit and an over-quota weight, and a
// priority. Deserved GPUs may also be given per GPU model, and then hold per
// model.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/resources.h"

namespace allot::core {

inline constexpr int32_t kDefaultQueuePriority = 100;

struct QueueSpec {
  std::string name;
  std::string parent;  // empty: a child of the root
  Resources deserved;
  Resources limit = Resources::Unlimited();
  // Over-quota weight per resource: how the idle amount above deserved is
  // split among queues of one priority. Zero means "never over quota by
  // fair share" (it may still borrow idle resources, and lose them first).
  Resources weight = Resources::Uniform(1);
  // Deserved GPUs per model, in milli-GPU: {"H100": 4000, "A100": 8000}.
  std::map<std::string, int64_t> deserved_gpu_by_model;
  // The most GPUs of a model the queue may hold, preemptible work included
  // (milli-GPU); a model not named is limited only by the GPU limit.
  std::map<std::string, int64_t> limit_gpu_by_model;
  int32_t priority = kDefaultQueuePriority;
};

}  // namespace allot::core
