// Placement of several tasks of one workload, all or nothing (a gang), with
// topology: a required level keeps every task in one domain of it, a
// preferred level keeps them in one domain of it when one has room, and the
// domain that fits most tightly (least free GPU left after) wins.
#pragma once

#include <string>

#include "sched/placement/placer.h"

namespace allot::sched {

class GangPlacer {
 public:
  explicit GangPlacer(const Placer& placer) : placer_(placer) {}

  // Binds `count` more tasks of ctx.workload in `state` and returns an empty
  // string; or leaves `state` unchanged and returns why they do not fit.
  std::string Place(ClusterState& state, const PlacementContext& ctx, int32_t count) const;

 private:
  // Places the tasks anywhere ctx allows, keeping them close; all or nothing.
  std::string PlaceSequentially(ClusterState& state, PlacementContext ctx, int32_t count) const;
  // Tries every domain of `level` (within ctx's own domain) and keeps the
  // tightest that holds all tasks. Returns false (state unchanged) if none.
  bool PlaceInTightestDomain(ClusterState& state, const PlacementContext& ctx, int32_t count,
                             const std::string& level, const std::string& inner_level) const;

  const Placer& placer_;
};

// The unplaced task indices of workload w, lowest first, at most `count`.
std::vector<uint32_t> UnplacedTasks(const ClusterState& state, uint32_t w, int32_t count);
// The nodes that hold placed tasks of workload w.
std::vector<uint32_t> MemberNodes(const ClusterState& state, uint32_t w);

}  // namespace allot::sched
