#include "sched/placement/fragmentation_memo.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace allot::sched {

FragmentationMemo::FragmentationMemo(ShapeMix mix, FragmentationRules rules, size_t max_entries)
    : mix_(std::move(mix)), rules_(rules), max_entries_(max_entries) {}

size_t FragmentationMemo::KeyHash::operator()(const Key& key) const {
  // Key has no padding (8 + 8 + 4 + 4 + 16 bytes), so its bytes are its value.
  static_assert(sizeof(Key) == 40);
  std::array<uint64_t, 5> words{};
  std::memcpy(words.data(), &key, sizeof(Key));
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (uint64_t word : words) hash = (hash ^ word) * 0x100000001b3ULL ^ (hash >> 29);
  return static_cast<size_t>(hash);
}

double FragmentationMemo::Of(const NodeFree& node) {
  if (node.gpu_count > kMaxGpus) return NodeFragmentation(node, mix_, rules_);
  Key key;
  key.cpu_free = node.cpu_free;
  key.memory_free = rules_.count_memory ? node.memory_free : 0;
  key.model = node.model;
  key.gpu_count = node.gpu_count;
  for (int g = 0; g < node.gpu_count; ++g) {
    if (node.gpu_free[g] < 0 || node.gpu_free[g] > UINT16_MAX) {
      return NodeFragmentation(node, mix_, rules_);
    }
    key.gpu_free[g] = static_cast<uint16_t>(node.gpu_free[g]);
  }
  std::sort(key.gpu_free.begin(), key.gpu_free.begin() + node.gpu_count, std::greater<>());
  if (auto found = known_.find(key); found != known_.end()) return found->second;
  if (known_.size() >= max_entries_) known_.clear();
  double fragmentation = NodeFragmentation(node, mix_, rules_);
  known_.emplace(key, fragmentation);
  return fragmentation;
}

}  // namespace allot::sched
