// Remembering failed attempts within one cycle. Pending workloads of one
// shape in one queue fare alike: once one has failed an attempt (to be
// placed, to reclaim, ...), the others need not try again until the state
// changes. Shapes are small integers given out on first use, so a lookup is
// an array access, not a string built per workload per action.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "sched/cluster_state.h"

namespace allot::sched {

enum class Attempt { kAllocate = 0, kConsolidate, kReclaim, kPreempt, kCount };

class FailureCache {
 public:
  explicit FailureCache(const ClusterState& state);

  // The reason workload w's `attempt` failed, if a workload of its shape
  // failed it when the state's counter stood at `epoch` and the counter has
  // not moved since; null otherwise (always null for workloads whose
  // attempt depends on more than their shape).
  const std::string* KnownToFail(Attempt attempt, uint32_t w, uint64_t epoch);
  void RememberFailure(Attempt attempt, uint32_t w, uint64_t epoch, std::string reason = {});

  // Workloads excluded from caching: a gang with running members or a
  // topology (where it goes depends on more than its shape) or one holding
  // a reservation.
  void Exclude(uint32_t w) { excluded_.at(w) = true; }

 private:
  // The shape id of workload w, or kNone when w is not cached.
  uint32_t ShapeOf(uint32_t w);

  struct Entry {
    uint64_t epoch_plus_one = 0;  // 0: nothing remembered
    std::string reason;
  };
  // Hash and equality of workloads (by index) by what an attempt depends
  // on: queue, gang size, priority, preemptibility, request, runtime,
  // allowed models, node selector.
  struct ShapeHash {
    const ClusterState* state;
    size_t operator()(uint32_t w) const;
  };
  struct ShapeEqual {
    const ClusterState* state;
    bool operator()(uint32_t a, uint32_t b) const;
  };

  const ClusterState& state_;
  std::vector<uint32_t> shape_of_;  // per workload; kNone until first use
  std::vector<bool> excluded_;
  std::unordered_map<uint32_t, uint32_t, ShapeHash, ShapeEqual> shapes_;
  std::array<std::vector<Entry>, static_cast<size_t>(Attempt::kCount)> failed_;
};

}  // namespace allot::sched
