// When each node's agent was last heard from (docs/agent-protocol.md §2),
// and the GPU usage it last reported (for metrics and the dashboard).
// Kept in memory: after a server restart every agent node counts as heard
// at the start, so that agents have a full `lost_after` to reconnect before
// their nodes are declared lost. With several servers, each records the
// heartbeats it hears in the store and the leader merges them all in; a
// server that starts leading gives every node a full `lost_after` again
// (its agents may be failing over to another server just then).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "wire/heartbeat.h"

namespace allot::server {

// The agent protocol's timings; the server hands them to agents at
// registration.
struct AgentTimings {
  int64_t heartbeat_interval_ms = 5000;
  int64_t lost_after_ms = 30000;
  // A failed training task restarts after this, doubling per restart.
  int64_t restart_backoff_ms = 10000;
};

class NodeLiveness {
 public:
  explicit NodeLiveness(int64_t started_ms) : started_ms_(started_ms) {}

  // Records a heartbeat (or a registration) of `node`.
  void Heard(const std::string& node, int64_t now_ms) {
    std::lock_guard lock(mutex_);
    last_ms_[node] = now_ms;
  }

  // Heartbeats other servers heard (the store's), merged in: the later time
  // of each node counts, and never earlier than this server's start or
  // its last GraceFrom (a stored heartbeat from before a failover must not
  // take back the grace).
  void Merge(const std::map<std::string, int64_t>& heard) {
    std::lock_guard lock(mutex_);
    for (const auto& [node, ms] : heard) {
      auto [known, added] = last_ms_.try_emplace(node, started_ms_);
      if (ms > known->second) known->second = ms;
    }
  }

  // Every node counts as heard no earlier than `now_ms` (a new leader).
  void GraceFrom(int64_t now_ms) {
    std::lock_guard lock(mutex_);
    started_ms_ = now_ms;
    for (auto& [node, ms] : last_ms_) ms = std::max(ms, now_ms);
  }

  // Records the GPU usage a heartbeat of `node` carried.
  void Reported(const std::string& node, std::vector<wire::GpuUsageSample> gpus) {
    std::lock_guard lock(mutex_);
    usage_[node] = std::move(gpus);
  }

  // The last GPU usage of every node that reported one.
  std::map<std::string, std::vector<wire::GpuUsageSample>> Usage() const {
    std::lock_guard lock(mutex_);
    return usage_;
  }

  // When `node` was last heard from; the server's start when not since.
  int64_t LastHeard(const std::string& node) const {
    std::lock_guard lock(mutex_);
    auto found = last_ms_.find(node);
    return found == last_ms_.end() ? started_ms_ : found->second;
  }

 private:
  int64_t started_ms_;
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> last_ms_;
  std::map<std::string, std::vector<wire::GpuUsageSample>> usage_;
};

}  // namespace allot::server
