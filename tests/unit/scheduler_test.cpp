// The scheduler's entry point: configuration errors, determinism, reasons.
#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include "bench/clusters.h"
#include "core/apply_plan.h"
#include "scenario/loader.h"
#include "scenario/runner.h"
#include "sched/move_targets.h"
#include "test_support.h"

namespace allot::sched {
namespace {

TEST(Scheduler, RejectsUnknownActionsNamingTheValidOnes) {
  SchedulerConfig config;
  config.actions = {"allocate", "backfill"};
  auto s = Scheduler::Create(config);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("unknown action 'backfill'"), std::string::npos);
  EXPECT_NE(s.error().message.find("stale-gang"), std::string::npos);
}

TEST(Scheduler, RejectsNegativeSettings) {
  SchedulerConfig config;
  config.consolidation_max_moves = -1;
  EXPECT_FALSE(Scheduler::Create(config).ok());
}

TEST(Scheduler, RejectsANegativeMinimumRunTimeNamingIt) {
  SchedulerConfig config;
  config.min_runtime = -1;
  auto s = Scheduler::Create(config);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().field, "min_runtime");
}

TEST(Scheduler, SamePlanForTheSameSnapshot) {
  core::Snapshot snap = bench::BusyCluster(40, 500, 3);
  ASSERT_TRUE(core::ValidateSnapshot(snap).ok());
  auto a = Scheduler::Create({});
  auto b = Scheduler::Create({});
  core::Plan first = (*a)->Cycle(snap);
  core::Plan second = (*b)->Cycle(snap);
  core::Plan again = (*a)->Cycle(snap);
  ASSERT_EQ(first.binds.size(), second.binds.size());
  ASSERT_EQ(first.evictions.size(), second.evictions.size());
  for (size_t i = 0; i < first.binds.size(); ++i) {
    EXPECT_EQ(first.binds[i].task, second.binds[i].task);
    EXPECT_EQ(first.binds[i].placement, second.binds[i].placement);
    EXPECT_EQ(first.binds[i].placement, again.binds[i].placement);
  }
  EXPECT_EQ(first.pending_reasons, second.pending_reasons);
}

TEST(Scheduler, EveryPendingWorkloadHasAReason) {
  core::Snapshot snap = bench::BusyCluster(20, 300, 5);
  auto s = Scheduler::Create({});
  core::Plan plan = (*s)->Cycle(snap);
  std::vector<int32_t> placed(snap.workloads.size(), 0);
  for (uint32_t w = 0; w < snap.workloads.size(); ++w) placed[w] = snap.workloads[w].PlacedTasks();
  for (const auto& e : plan.evictions) --placed[e.task.workload];
  for (const auto& b : plan.binds) ++placed[b.task.workload];
  for (uint32_t w = 0; w < snap.workloads.size(); ++w) {
    if (placed[w] < snap.workloads[w].spec.tasks) {
      EXPECT_FALSE(plan.pending_reasons[w].empty()) << snap.workloads[w].spec.name;
    } else {
      EXPECT_TRUE(plan.pending_reasons[w].empty()) << snap.workloads[w].spec.name;
    }
  }
}

TEST(Scheduler, ReclaimBenchmarkCaseEvictsExactlyWhatTheGangNeeds) {
  core::Snapshot snap = bench::ReclaimCluster(50);
  auto s = Scheduler::Create({});
  core::Plan plan = (*s)->Cycle(snap);
  EXPECT_EQ(plan.binds.size(), 5u);
  EXPECT_EQ(plan.evictions.size(), 40u);
  for (const auto& e : plan.evictions) {
    EXPECT_NE(e.reason.find("reclaimed"), std::string::npos);
  }
}

// Every eviction in a plan says which action made it: the server counts
// them by kind and the replay splits its preemptions the same way. Each
// scenario below evicts through exactly one action.
TEST(Scheduler, EachEvictionNamesTheActionThatMadeIt) {
  const std::pair<const char*, core::EvictionKind> cases[] = {
      {"010-reclaim-lent-gpus.yaml", core::EvictionKind::kReclaim},
      {"015-preempt-lower-priority-in-queue.yaml", core::EvictionKind::kPreempt},
      {"044-consolidate-to-free-a-node.yaml", core::EvictionKind::kConsolidate},
      {"025-stale-gang-evicted.yaml", core::EvictionKind::kGangRestart},
  };
  for (const auto& [file, kind] : cases) {
    std::string path = ALLOT_SOURCE_DIR;
    path.append("/tests/scenarios/").append(file);
    auto scenario = scenario::LoadScenarioFile(path);
    ASSERT_TRUE(scenario.ok()) << file;
    auto s = Scheduler::Create(scenario->config);
    ASSERT_TRUE(s.ok());
    core::Snapshot world = scenario->snapshot;
    std::vector<core::Eviction> evictions;
    for (int32_t round = 0; round < scenario->expect.rounds; ++round) {
      core::Plan plan = (*s)->Cycle(world);
      evictions.insert(evictions.end(), plan.evictions.begin(), plan.evictions.end());
      core::ApplyPlan(plan, world);
      world.now += scenario->cycle_interval;
    }
    ASSERT_FALSE(evictions.empty()) << file;
    for (const auto& e : evictions) {
      EXPECT_EQ(e.kind, kind) << file << ": " << e.reason;
    }
  }
}

}  // namespace
}  // namespace allot::sched

namespace allot::sched {
namespace {

// A unit that fits on no node but its own cannot be moved off it, and
// consolidation skips such a choice without trying it (sched/move_targets.h).
TEST(MoveTargets, AUnitMovesOnlyWhereAnotherNodeTakesIt) {
  core::Snapshot snap = testing::SnapshotOf(R"(
name: move targets
nodes:
  - {name: node0, gpus: 2}
  - {name: node1, gpus: 2}
  - {name: node2, gpus: 4}
queues:
  - {name: team, deserved: {gpu: 8}}
workloads:
  - {name: one, queue: team, gpu: 1, state: running, placement: [{node: node0, gpus: [0]}]}
  - {name: four, queue: team, gpu: 4, state: running, placement: [{node: node2, gpus: [0, 1, 2, 3]}]}
  - {name: two, queue: team, gpu: 2}
)");
  ASSERT_TRUE(core::ValidateSnapshot(snap));
  SchedulerConfig config;
  Placer placer = Placer::Default();
  DominantShareOrder queues;
  PriorityThenAgeOrder workloads;
  Session session(snap, config, placer, queues, workloads);
  MoveTargets targets(session);
  VictimUnit one{testing::WorkloadIndex(snap, "one")};
  VictimUnit four{testing::WorkloadIndex(snap, "four")};
  EXPECT_TRUE(targets.MayMove(one, testing::NodeIndex(snap, "node0")));    // node1 has room
  EXPECT_FALSE(targets.MayMove(four, testing::NodeIndex(snap, "node2")));  // no other node has 4
}

}  // namespace
}  // namespace allot::sched
