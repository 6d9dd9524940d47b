#include "sched/failure_cache.h"

#include <functional>

namespace allot::sched {
namespace {

constexpr uint32_t kUnset = kNone - 1;

void Mix(size_t& seed, size_t value) {
  seed ^= value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

}  // namespace

size_t FailureCache::ShapeHash::operator()(uint32_t w) const {
  const WorkloadState& ws = state->workload(w);
  const auto& s = state->spec(w);
  size_t seed = ws.queue;
  for (int64_t v :
       {int64_t{ws.tasks}, int64_t{ws.min_tasks}, int64_t{ws.priority}, int64_t{ws.preemptible},
        s.request.gpu_milli, s.request.gpu_memory_mib, s.request.cpu_milli, s.request.memory_mib,
        s.max_runtime.value_or(-1), static_cast<int64_t>(s.gpu_models.size())}) {
    Mix(seed, static_cast<size_t>(v));
  }
  return seed;
}

bool FailureCache::ShapeEqual::operator()(uint32_t a, uint32_t b) const {
  const WorkloadState& wa = state->workload(a);
  const WorkloadState& wb = state->workload(b);
  if (wa.queue != wb.queue || wa.tasks != wb.tasks || wa.min_tasks != wb.min_tasks ||
      wa.priority != wb.priority || wa.preemptible != wb.preemptible) {
    return false;
  }
  const auto& x = state->spec(a);
  const auto& y = state->spec(b);
  return x.request.gpu_milli == y.request.gpu_milli &&
         x.request.gpu_memory_mib == y.request.gpu_memory_mib &&
         x.request.cpu_milli == y.request.cpu_milli &&
         x.request.memory_mib == y.request.memory_mib && x.max_runtime == y.max_runtime &&
         x.gpu_models == y.gpu_models && x.node_selector == y.node_selector && x.pools == y.pools;
}

FailureCache::FailureCache(const ClusterState& state)
    : state_(state),
      shape_of_(state.workload_count(), kUnset),
      excluded_(state.workload_count(), false),
      shapes_(16, ShapeHash{&state}, ShapeEqual{&state}) {}

uint32_t FailureCache::ShapeOf(uint32_t w) {
  uint32_t& shape = shape_of_[w];
  if (shape == kUnset) {
    const auto& spec = state_.spec(w);
    if (!spec.topology.required.empty() || !spec.topology.preferred.empty()) {
      shape = kNone;
    } else {
      // try_emplace: no node is made for a shape already known (most).
      auto [it, inserted] = shapes_.try_emplace(w, static_cast<uint32_t>(shapes_.size()));
      shape = it->second;
    }
  }
  if (shape == kNone || excluded_[w] || state_.workload(w).placed > 0) return kNone;
  return shape;
}

const std::string* FailureCache::KnownToFail(Attempt attempt, uint32_t w, uint64_t epoch) {
  uint32_t shape = ShapeOf(w);
  if (shape == kNone) return nullptr;
  const auto& entries = failed_[static_cast<size_t>(attempt)];
  if (shape >= entries.size() || entries[shape].epoch_plus_one != epoch + 1) return nullptr;
  return &entries[shape].reason;
}

void FailureCache::RememberFailure(Attempt attempt, uint32_t w, uint64_t epoch,
                                   std::string reason) {
  uint32_t shape = ShapeOf(w);
  if (shape == kNone) return;
  auto& entries = failed_[static_cast<size_t>(attempt)];
  if (shape >= entries.size()) entries.resize(shape + 1);
  entries[shape] = {epoch + 1, std::move(reason)};
}

}  // namespace allot::sched
