#include "sim/pack/pack_policy.h"

#include <map>
#include <tuple>

namespace allot::sim {

const std::vector<std::string>& PackPolicyNames() {
  static const std::vector<std::string> names = {
      "random", "dotprod", "gpuclustering", "gpupacking", "bestfit", "fgd", "allot", "live"};
  return names;
}

Result<std::unique_ptr<PackPolicy>> MakePackPolicy(const std::string& name) {
  if (name == "random") return MakeRandomPolicy();
  if (name == "dotprod") return MakeDotProductPolicy();
  if (name == "gpuclustering") return MakeGpuClusteringPolicy();
  if (name == "gpupacking") return MakeGpuPackingPolicy();
  if (name == "bestfit") return MakeBestFitPolicy();
  if (name == "fgd") return MakeFgdPolicy();
  if (name == "allot") return MakeAllotPolicy();
  if (name == "live") return MakeLivePolicy();
  std::string valid;
  for (const auto& n : PackPolicyNames()) valid.append(valid.empty() ? "" : ", ").append(n);
  return Error("unknown policy '" + name + "': use one of " + valid, "policy");
}

sched::ShapeMix TypicalShapes(const std::vector<OpenbTask>& tasks, bool with_memory) {
  using Key = std::tuple<int64_t, int64_t, int32_t, std::string, int64_t>;
  std::map<Key, std::pair<sched::TaskShape, double>> counts;
  for (const auto& task : tasks) {
    Key key{task.cpu_milli, task.gpu_milli, task.gpus, task.gpu_spec,
            with_memory ? task.memory_mib : 0};
    auto& entry = counts[key];
    if (entry.second == 0) {
      entry.first.cpu_milli = task.cpu_milli;
      entry.first.memory_mib = with_memory ? task.memory_mib : 0;
      entry.first.gpus = task.gpus;
      entry.first.gpu_milli = task.gpu_milli;
      entry.first.allowed_models = task.allowed;
    }
    entry.second += 1;
  }
  std::vector<sched::TaskShape> counted;
  for (auto& [key, entry] : counts) {
    entry.first.weight = entry.second;
    counted.push_back(entry.first);
  }
  return sched::ShapeMix::FromCounts(std::move(counted), 0.95);
}

}  // namespace allot::sim
