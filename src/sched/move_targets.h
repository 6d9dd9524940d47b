// Whether the units a consolidation would move off a node can go anywhere
// else, answered without trying the move. Consolidation weighs every node's
// least disruptive choice and tries each in turn (evict the units, place
// them elsewhere, bind the task, or roll back). On a full cluster nearly
// every try fails at the second step, and at 10,000 nodes one workload's
// tries took 30 to 90 ms: a steady cycle after a hundred workloads ended
// ran for minutes (docs/benchmarks.md).
//
// A unit can move only if each of its tasks passes the placer's filters on
// some node other than the one being cleared, in the state the attempt
// starts from; moving the others first only fills nodes up, so a unit that
// fits nowhere else then fits nowhere later. The test is a necessary
// condition, so skipping a choice that fails it changes no plan.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "sched/session.h"
#include "sched/victim_search.h"

namespace allot::sched {

class MoveTargets {
 public:
  // For one attempt: the state must not change between calls except by
  // moves that are rolled back.
  explicit MoveTargets(const Session& session);

  // False when some task of `unit` passes the filters on no node but
  // `from`: moving it off `from` cannot succeed.
  bool MayMove(const VictimUnit& unit, uint32_t from);

 private:
  // What the filters see of a workload's task; a reservation holder's is
  // its own (the reservation filter lets it use its GPUs).
  using Key =
      std::tuple<int64_t, int64_t, int64_t, int64_t, std::vector<std::string>,
                 std::map<std::string, std::string>, std::vector<std::string>, int64_t, uint32_t>;
  // Up to two nodes where a task of workload w passes every filter.
  const std::array<uint32_t, 2>& FitsOf(uint32_t w);

  const Session& session_;
  std::vector<uint32_t> holders_;  // workloads holding a reservation, sorted
  std::map<Key, std::array<uint32_t, 2>> fits_;
};

}  // namespace allot::sched
