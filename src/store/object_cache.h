// Get() results of the kinds read on nearly every request and written
// rarely (tokens, users, projects, departments), for a store whose reads
// cross the network (PostgreSQL): an API call reads three or four of them
// before it writes anything.
//
// Coherent through eviction: the store evicts a key when its own commit
// wrote it (before the commit is acknowledged) and when another server's
// commit names it (NOTIFY), and clears everything while it cannot hear the
// other servers. A read that raced with an eviction is not kept: callers
// take a generation before reading and hand it back with the result.
// Another server's change is seen here as soon as its notification
// arrives, milliseconds after it committed.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "common/result.h"
#include "store/store.h"

namespace allot::store {

class ObjectCache {
 public:
  explicit ObjectCache(std::set<std::string> kinds) : kinds_(std::move(kinds)) {}

  // Whether `kind` is cached at all.
  bool Caches(const std::string& kind) const { return kinds_.count(kind) > 0; }

  // The kept result for kind/name (an object, or not_found), if any.
  std::optional<Result<Object>> Find(const std::string& kind, const std::string& name) const;

  // Taken before a read whose result may be kept.
  uint64_t Generation() const { return generation_.load(); }

  // Keeps `read` (an object or a not_found) unless an eviction, or a
  // pause, came since `generation`.
  void Keep(const std::string& kind, const std::string& name, const Result<Object>& read,
            uint64_t generation);

  void Evict(const std::string& kind, const std::string& name);
  void Clear();

  // While paused (the store cannot hear the other servers), nothing is
  // found or kept; Resume starts again from empty.
  void Pause();
  void Resume();

 private:
  static constexpr size_t kMaxEntries = 100000;  // past this (bad tokens, say): start over

  const std::set<std::string> kinds_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Result<Object>> kept_;
  std::atomic<uint64_t> generation_{0};
  bool paused_ = true;  // until the store hears the others
};

}  // namespace allot::store
