// Remembers node fragmentation by node state. In a cluster of many alike
// nodes the same free state (GPU model, free CPU, free memory where the rules
// count it, free milli of each GPU in any order) recurs across nodes and
// across moves, so its fragmentation is looked up instead of computed again.
// The answer is exactly NodeFragmentation's. Not thread-safe: one per user.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "sched/placement/fragmentation_model.h"

namespace allot::sched {

class FragmentationMemo {
 public:
  // Nodes with more GPUs than this are computed each time.
  static constexpr int kMaxGpus = 8;

  FragmentationMemo() = default;
  // Measures against `mix` under `rules`; forgets everything once it holds
  // `max_entries` states, which bounds its memory.
  FragmentationMemo(ShapeMix mix, FragmentationRules rules, size_t max_entries = size_t{1} << 20);

  // NodeFragmentation(node, mix, rules).
  double Of(const NodeFree& node);

  const ShapeMix& mix() const { return mix_; }
  const FragmentationRules& rules() const { return rules_; }

 private:
  struct Key {
    int64_t cpu_free = 0;
    int64_t memory_free = 0;
    int32_t model = 0;
    int32_t gpu_count = 0;
    std::array<uint16_t, kMaxGpus> gpu_free{};  // most free first
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };

  ShapeMix mix_;
  FragmentationRules rules_;
  size_t max_entries_ = 0;
  std::unordered_map<Key, double, KeyHash> known_;
};

}  // namespace allot::sched
