#include "store/object_cache.h"

namespace allot::store {

std::optional<Result<Object>> ObjectCache::Find(const std::string& kind,
                                                const std::string& name) const {
  std::lock_guard lock(mutex_);
  if (paused_) return std::nullopt;
  auto found = kept_.find({kind, name});
  if (found == kept_.end()) return std::nullopt;
  return found->second;
}

void ObjectCache::Keep(const std::string& kind, const std::string& name, const Result<Object>& read,
                       uint64_t generation) {
  if (!read && read.error().code != "not_found") return;  // errors are not answers
  std::lock_guard lock(mutex_);
  if (paused_ || generation != generation_.load()) return;
  if (kept_.size() >= kMaxEntries) kept_.clear();
  kept_.insert_or_assign({kind, name}, read);
}

void ObjectCache::Evict(const std::string& kind, const std::string& name) {
  if (!Caches(kind)) return;
  std::lock_guard lock(mutex_);
  ++generation_;
  kept_.erase({kind, name});
}

void ObjectCache::Clear() {
  std::lock_guard lock(mutex_);
  ++generation_;
  kept_.clear();
}

void ObjectCache::Pause() {
  std::lock_guard lock(mutex_);
  ++generation_;
  paused_ = true;
  kept_.clear();
}

void ObjectCache::Resume() {
  std::lock_guard lock(mutex_);
  ++generation_;
  paused_ = false;
  kept_.clear();
}

}  // namespace allot::store
