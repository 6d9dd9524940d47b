#include "server/replica_plan.h"

#include <algorithm>

namespace allot::server {
namespace {

// Which replicas go first when there are too many: unready ones, then the
// newest (the oldest have warmed up).
void SortForRemoval(std::vector<const ReplicaView*>& replicas) {
  std::sort(replicas.begin(), replicas.end(), [](const ReplicaView* a, const ReplicaView* b) {
    if (a->ready != b->ready) return !a->ready;
    if (a->created_ms != b->created_ms) return a->created_ms > b->created_ms;
    return a->name > b->name;
  });
}

}  // namespace

ReplicaActions PlanReplicas(int32_t desired, int64_t generation,
                            const std::vector<ReplicaView>& replicas) {
  ReplicaActions actions;
  std::vector<const ReplicaView*> current;
  std::vector<const ReplicaView*> old;
  int32_t unready_current = 0;
  for (const ReplicaView& replica : replicas) {
    if (replica.generation >= generation) {
      current.push_back(&replica);
      unready_current += replica.ready ? 0 : 1;
    } else {
      old.push_back(&replica);
    }
  }
  const auto total = static_cast<int32_t>(current.size() + old.size());
  if (old.empty() || desired == 0) {
    SortForRemoval(old);
    for (const ReplicaView* replica : old) actions.drain.push_back(replica->name);
    const auto have = static_cast<int32_t>(current.size());
    if (have < desired) {
      actions.create = desired - have;
    } else if (have > desired) {
      SortForRemoval(current);
      for (int32_t i = 0; i < have - desired; ++i) {
        actions.drain.push_back(current[static_cast<size_t>(i)]->name);
      }
    }
    return actions;
  }
  // A rolling update. More load than replicas: new ones at once.
  if (total < desired) {
    actions.create = desired - total;
    return actions;
  }
  // Old replicas that do not serve anyway go at once.
  for (const ReplicaView* replica : old) {
    if (!replica->ready && total - static_cast<int32_t>(actions.drain.size()) > desired) {
      actions.drain.push_back(replica->name);
    }
  }
  if (!actions.drain.empty()) return actions;
  if (unready_current > 0) return actions;  // wait for the surge to be ready
  if (total > desired) {
    // The new one is ready: the oldest old one drains.
    const ReplicaView* oldest =
        *std::min_element(old.begin(), old.end(), [](const ReplicaView* a, const ReplicaView* b) {
          return a->created_ms != b->created_ms ? a->created_ms < b->created_ms : a->name < b->name;
        });
    actions.drain.push_back(oldest->name);
  } else {
    actions.create = 1;  // surge one
  }
  return actions;
}

}  // namespace allot::server
