// The workload order: PriorityThenAgeOrder's key sort agrees with its own
// Before(), the rule the default WorkloadOrder::Sort sorts by.
#include "sched/workload_order.h"

#include <gtest/gtest.h>

#include <random>

#include "core/snapshot.h"

namespace allot::sched {
namespace {

// One leaf queue and `count` pending workloads whose priorities and submit
// times repeat often, so that every rule of the order decides some pairs.
core::Snapshot Pending(uint32_t count, uint64_t seed) {
  core::Snapshot s;
  core::NodeSpec node;
  node.name = "n0";
  node.cpu_milli = 8000;
  node.memory_mib = 1024;
  node.gpus = {{0, "g0", "A100", 80 * 1024}};
  s.nodes.push_back(node);
  core::QueueSpec team;
  team.name = "team";
  s.queues = {team};
  std::mt19937_64 rng(seed);
  for (uint32_t i = 0; i < count; ++i) {
    core::Workload w;
    w.spec.name = "w" + std::to_string(i);
    w.spec.queue = "team";
    w.spec.priority = static_cast<int32_t>(rng() % 3) * 50;
    w.spec.submitted_at = static_cast<core::Time>(rng() % 5) * 1000;
    w.spec.request.gpu_milli = 1000;
    w.tasks.resize(1);
    s.workloads.push_back(w);
  }
  return s;
}

// WorkloadOrder::Sort as it is, for an order that does not override it.
class ByBefore final : public WorkloadOrder {
 public:
  bool Before(const ClusterState& state, uint32_t a, uint32_t b) const override {
    return order.Before(state, a, b);
  }
  PriorityThenAgeOrder order;
};

TEST(WorkloadOrderTest, PriorityThenAgeSortsAsItsRuleDoes) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    core::Snapshot snapshot = Pending(2000, seed);
    ASSERT_TRUE(core::ValidateSnapshot(snapshot).ok());
    ClusterState state(snapshot);
    std::vector<uint32_t> by_keys(state.workload_count());
    const auto count = static_cast<uint32_t>(by_keys.size());
    for (uint32_t w = 0; w < count; ++w) by_keys[w] = count - 1 - w;
    std::vector<uint32_t> by_rule = by_keys;
    PriorityThenAgeOrder().Sort(state, by_keys);
    ByBefore().Sort(state, by_rule);
    EXPECT_EQ(by_keys, by_rule) << "seed " << seed;
    // The rule itself: priority down, then submit time up, then index up.
    for (size_t i = 1; i < by_keys.size(); ++i) {
      const WorkloadState& a = state.workload(by_keys[i - 1]);
      const WorkloadState& b = state.workload(by_keys[i]);
      ASSERT_TRUE(a.priority > b.priority ||
                  (a.priority == b.priority &&
                   (a.submitted_at < b.submitted_at ||
                    (a.submitted_at == b.submitted_at && by_keys[i - 1] < by_keys[i]))))
          << "seed " << seed << " at " << i;
    }
  }
}

}  // namespace
}  // namespace allot::sched
