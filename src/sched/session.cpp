#include "sched/session.h"

#include <algorithm>

namespace allot::sched {

PlacementContext Session::ContextFor(uint32_t w) const {
  PlacementContext ctx;
  ctx.workload = w;
  const auto& spec = state.spec(w);
  if (spec.max_runtime) ctx.ends_by = state.now() + *spec.max_runtime;
  return ctx;
}

int32_t Session::MissingForMin(uint32_t w) const {
  return std::max(0, state.spec(w).min_tasks - state.workload(w).placed);
}

std::string Session::ShapeKey(const char* action, uint32_t w, int32_t count) const {
  const auto& spec = state.spec(w);
  const auto& ws = state.workload(w);
  std::string key = action;
  key.reserve(128);
  auto add = [&key](int64_t v) { key.append(reinterpret_cast<const char*>(&v), sizeof v); };
  // A workload with running tasks (topology members) or a reservation is
  // its own shape.
  bool unique =
      ws.placed > 0 || !spec.topology.required.empty() || !spec.topology.preferred.empty();
  for (const auto& r : reservations) unique = unique || r.workload == w;
  if (unique) {
    add(-1);
    add(w);
  }
  add(ws.queue);
  add(count);
  add(spec.priority);
  add(spec.preemptible ? 1 : 0);
  add(spec.request.gpu_milli);
  add(spec.request.gpu_memory_mib);
  add(spec.request.cpu_milli);
  add(spec.request.memory_mib);
  add(spec.max_runtime.value_or(-1));
  for (const auto& m : spec.gpu_models) key.append("/").append(m);
  for (const auto& [k, v] : spec.node_selector) key.append("/").append(k).append("=").append(v);
  return key;
}

const std::string* Session::KnownToFail(const std::string& key, uint64_t epoch) const {
  auto it = failed_shapes.find(key);
  if (it == failed_shapes.end() || it->second.first != epoch) return nullptr;
  return &it->second.second;
}

void Session::RememberFailure(const std::string& key, uint64_t epoch, std::string reason) {
  failed_shapes[key] = {epoch, std::move(reason)};
}

}  // namespace allot::sched
