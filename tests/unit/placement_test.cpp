// Each filter, scorer and tie-breaker alone, then the placer and the gang
// placer.
#include <gtest/gtest.h>

#include "sched/cluster_state.h"
#include "sched/placement/filters.h"
#include "sched/placement/gang_placer.h"
#include "sched/placement/placer.h"
#include "sched/placement/scorers.h"
#include "sched/placement/tie_breakers.h"
#include "test_support.h"

namespace allot::sched {
namespace {

using testing::NodeIndex;
using testing::SnapshotOf;
using testing::WorkloadIndex;

const char* kCluster = R"(
name: placement
nodes:
  - {name: a100, gpus: 4, gpu_model: A100, cpu: 8, memory: 64Gi, labels: {zone: a, net: ib}}
  - {name: h100, gpus: 8, gpu_model: H100, labels: {zone: b}}
queues:
  - {name: team, deserved: {gpu: 12}}
workloads:
  - {name: half, queue: team, gpu: 0.5, state: running, placement: [{node: a100, gpus: [2]}]}
  - {name: three, queue: team, gpu: 3, state: running, placement: [{node: h100, gpus: [0, 1, 2]}]}
  - {name: h100-only, queue: team, gpu: 1, gpu_models: [H100]}
  - {name: ib-only, queue: team, gpu: 1, node_selector: {net: ib}}
  - {name: cpu-heavy, queue: team, gpu: 1, cpu: 100}
  - {name: mem-heavy, queue: team, gpu: 1, memory: 100Gi}
  - {name: quarter, queue: team, gpu: 0.25}
  - {name: two, queue: team, gpu: 2}
  - {name: gang, queue: team, kind: distributed, tasks: 3, gpu: 2, topology: {required: zone}}
)";

class PlacementTest : public ::testing::Test {
 protected:
  PlacementTest() : snap_(SnapshotOf(kCluster)), state_(snap_) {}
  PlacementContext Ctx(const std::string& workload) {
    PlacementContext ctx;
    ctx.workload = WorkloadIndex(snap_, workload);
    return ctx;
  }
  uint32_t Node(const std::string& name) { return NodeIndex(snap_, name); }

  core::Snapshot snap_;
  ClusterState state_;
};

TEST_F(PlacementTest, GpuModelFilter) {
  GpuModelFilter f;
  EXPECT_EQ(f.Check(state_, Ctx("h100-only"), Node("a100")), FilterFailure::kGpuModel);
  EXPECT_EQ(f.Check(state_, Ctx("h100-only"), Node("h100")), FilterFailure::kPass);
}

TEST_F(PlacementTest, NodeLabelsFilter) {
  NodeLabelsFilter f;
  EXPECT_EQ(f.Check(state_, Ctx("ib-only"), Node("h100")), FilterFailure::kLabels);
  EXPECT_EQ(f.Check(state_, Ctx("ib-only"), Node("a100")), FilterFailure::kPass);
}

TEST_F(PlacementTest, TopologyFilter) {
  TopologyFilter f;
  PlacementContext ctx = Ctx("gang");
  EXPECT_EQ(f.Check(state_, ctx, Node("a100")), FilterFailure::kPass);
  ctx.domain_level = "zone";
  ctx.domain_value = "b";
  EXPECT_EQ(f.Check(state_, ctx, Node("a100")), FilterFailure::kTopology);
  EXPECT_EQ(f.Check(state_, ctx, Node("h100")), FilterFailure::kPass);
}

TEST_F(PlacementTest, ResourcesFitFilter) {
  ResourcesFitFilter f;
  EXPECT_EQ(f.Check(state_, Ctx("cpu-heavy"), Node("a100")), FilterFailure::kCpu);
  EXPECT_EQ(f.Check(state_, Ctx("mem-heavy"), Node("a100")), FilterFailure::kMemory);
  EXPECT_EQ(f.Check(state_, Ctx("two"), Node("a100")), FilterFailure::kPass);
  EXPECT_EQ(f.Check(state_, Ctx("quarter"), Node("a100")), FilterFailure::kPass);
}

TEST_F(PlacementTest, ReservationFilterHoldsGpusUnlessBackfillEndsInTime) {
  ReservationFilter f;
  NodeState& node = state_.mutable_node(Node("a100"));
  node.reserved_gpus = 3;  // of 3 free whole GPUs
  node.reserved_for = WorkloadIndex(snap_, "gang");
  node.reserved_needed_at = state_.now() + core::kHour;
  PlacementContext ctx = Ctx("two");
  EXPECT_EQ(f.Check(state_, ctx, Node("a100")), FilterFailure::kReserved);
  ctx.ends_by = state_.now() + 30 * core::kMinute;
  EXPECT_EQ(f.Check(state_, ctx, Node("a100")), FilterFailure::kPass);
  ctx.ends_by = state_.now() + 2 * core::kHour;
  EXPECT_EQ(f.Check(state_, ctx, Node("a100")), FilterFailure::kReserved);
  // A fraction may still share the GPU that is already split.
  EXPECT_EQ(f.Check(state_, Ctx("quarter"), Node("a100")), FilterFailure::kPass);
  EXPECT_EQ(f.Check(state_, Ctx("gang"), Node("a100")), FilterFailure::kPass);
}

TEST_F(PlacementTest, BinPackingPrefersTheFullerNode) {
  BinPackingScorer s;
  // a100: 3 of 4 GPUs free -> after 2: 1 free; h100: 5 of 8 free -> 3 free.
  EXPECT_GT(s.Score(state_, Ctx("two"), Node("a100")), s.Score(state_, Ctx("two"), Node("h100")));
  EXPECT_EQ(s.Score(state_, Ctx("quarter"), Node("a100")), 0);
}

TEST_F(PlacementTest, FragmentationPrefersASharedGpu) {
  FragmentationScorer s;
  EXPECT_GT(s.Score(state_, Ctx("quarter"), Node("a100")),
            s.Score(state_, Ctx("quarter"), Node("h100")));
}

TEST(FragmentationScorerTest, WholeGpuTasksKeepFreeNodesWholeForTheTypicalTask) {
  // Typical tasks here take two GPUs. A one-GPU task on `broken` (one GPU
  // half used) leaves nothing a typical task could have used; on `whole`
  // it would strand a GPU that a two-GPU task needs.
  core::Snapshot snap = SnapshotOf(R"(
name: fgd
nodes:
  - {name: broken, gpus: 2, gpu_model: A100}
  - {name: whole, gpus: 2, gpu_model: A100}
queues:
  - {name: team, deserved: {gpu: 4}}
workloads:
  - {name: half, queue: team, gpu: 0.5, state: running, placement: [{node: broken, gpus: [0]}]}
  - {name: one, queue: team, gpu: 1}
  - {name: pair-a, queue: team, gpu: 2}
  - {name: pair-b, queue: team, gpu: 2}
  - {name: pair-c, queue: team, gpu: 2}
  - {name: cpu-only, queue: team, cpu: 1}
)");
  ClusterState state(snap);
  FragmentationScorer s;
  PlacementContext one;
  one.workload = WorkloadIndex(snap, "one");
  EXPECT_GT(s.Score(state, one, NodeIndex(snap, "broken")),
            s.Score(state, one, NodeIndex(snap, "whole")));
  PlacementContext cpu_only;
  cpu_only.workload = WorkloadIndex(snap, "cpu-only");
  EXPECT_EQ(s.Score(state, cpu_only, NodeIndex(snap, "whole")), 0);  // not its concern
}

// Two A100 nodes alike but for CPU: `drained` has 32 cores, `fed` 48. The
// typical task takes one GPU and 8 cores; `one` takes one GPU and 12. On
// either node the typical task still fits afterwards, so the fragmentation
// score ties; but on `drained` the 20 cores left feed only two of its three
// free GPUs, while `fed` keeps 36 for three. `h100` is another model.
const char* kCpuFeedCluster = R"(
name: cpu-feed
nodes:
  - {name: drained, gpus: 4, gpu_model: A100, cpu: 32}
  - {name: fed, gpus: 4, gpu_model: A100, cpu: 48}
  - {name: h100, gpus: 4, gpu_model: H100, cpu: 32}
queues:
  - {name: team, deserved: {gpu: 12}}
workloads:
  - {name: one, queue: team, gpu: 1, cpu: 12}
  - {name: typical-a, queue: team, gpu: 1, cpu: 8}
  - {name: typical-b, queue: team, gpu: 1, cpu: 8}
  - {name: typical-c, queue: team, gpu: 1, cpu: 8}
  - {name: typical-d, queue: team, gpu: 1, cpu: 8}
  - {name: typical-e, queue: team, gpu: 1, cpu: 8}
)";

TEST(CpuFeedTieBreakerTest, PrefersTheNodeWhoseCpuStillFeedsItsFreeGpus) {
  core::Snapshot snap = SnapshotOf(kCpuFeedCluster);
  ClusterState state(snap);
  PlacementContext one;
  one.workload = WorkloadIndex(snap, "one");
  uint32_t drained = NodeIndex(snap, "drained");
  uint32_t fed = NodeIndex(snap, "fed");
  FragmentationScorer fragmentation;
  ASSERT_EQ(fragmentation.Score(state, one, drained), fragmentation.Score(state, one, fed));
  CpuFeedTieBreaker tie_breaker;
  std::optional<int64_t> drained_key = tie_breaker.Key(state, one, drained);
  std::optional<int64_t> fed_key = tie_breaker.Key(state, one, fed);
  ASSERT_TRUE(drained_key && fed_key);
  EXPECT_LT(*fed_key, *drained_key);  // lower is better
  EXPECT_TRUE(tie_breaker.Compares(state, drained, fed));
  // Nodes of different models are not compared.
  EXPECT_FALSE(tie_breaker.Compares(state, drained, NodeIndex(snap, "h100")));
}

TEST(CpuFeedTieBreakerTest, DecidesThePlacersTiesBeforeBinPacking) {
  core::Snapshot snap = SnapshotOf(kCpuFeedCluster);
  ClusterState state(snap);
  PlacementContext one;
  one.workload = WorkloadIndex(snap, "one");
  // Without it the first candidate (`drained`, first in the node list)
  // keeps the tie; bin-packing sees the two nodes alike.
  auto placed = Placer::Default().PlaceTask(state, one, nullptr);
  ASSERT_TRUE(placed.has_value());
  EXPECT_EQ(placed->node, NodeIndex(snap, "fed"));
}

TEST(ScoreTieBreakerTest, PrefersTheHigherScore) {
  core::Snapshot snap = SnapshotOf(kCluster);
  ClusterState state(snap);
  PlacementContext two;
  two.workload = WorkloadIndex(snap, "two");
  ScoreTieBreaker by_bin_packing(std::make_unique<BinPackingScorer>());
  EXPECT_STREQ(by_bin_packing.Name(), "bin-packing");
  // a100 is left with 1 free GPU, h100 with 3: a100 has the lower key.
  std::optional<int64_t> a100 = by_bin_packing.Key(state, two, NodeIndex(snap, "a100"));
  std::optional<int64_t> h100 = by_bin_packing.Key(state, two, NodeIndex(snap, "h100"));
  ASSERT_TRUE(a100 && h100);
  EXPECT_LT(*a100, *h100);
  EXPECT_TRUE(by_bin_packing.Compares(state, NodeIndex(snap, "a100"), NodeIndex(snap, "h100")));
}

TEST_F(PlacementTest, TopologyClosenessPrefersMembersAndTheirDomain) {
  TopologyClosenessScorer s;
  PlacementContext ctx = Ctx("gang");
  EXPECT_EQ(s.Score(state_, ctx, Node("a100")), 0);
  ctx.member_nodes = {Node("h100")};
  EXPECT_EQ(s.Score(state_, ctx, Node("h100")), kMaxScore);
  EXPECT_LT(s.Score(state_, ctx, Node("a100")), kMaxScore);
}

TEST_F(PlacementTest, PlacerPutsAFractionOnTheSharedGpu) {
  Placer placer = Placer::Default();
  auto p = placer.PlaceTask(state_, Ctx("quarter"), nullptr);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->node, Node("a100"));
  EXPECT_EQ(p->gpus, std::vector<int32_t>{2});
}

TEST_F(PlacementTest, PlacerExplainsFailures) {
  Placer placer = Placer::Default();
  PlacementFailure failure;
  EXPECT_FALSE(placer.PlaceTask(state_, Ctx("cpu-heavy"), &failure).has_value());
  std::string why = failure.Describe(state_, WorkloadIndex(snap_, "cpu-heavy"));
  EXPECT_NE(why.find("2 nodes lack free CPU"), std::string::npos) << why;
}

TEST_F(PlacementTest, GangPlacerKeepsARequiredDomainAndIsAllOrNothing) {
  Placer placer = Placer::Default();
  GangPlacer gangs(placer);
  size_t before = state_.Mark();
  // 3 tasks x 2 GPUs: zone a has 3 free GPUs, zone b 5: neither holds 6.
  std::string why = gangs.Place(state_, Ctx("gang"), 3);
  EXPECT_NE(why.find("single 'zone' domain"), std::string::npos) << why;
  EXPECT_EQ(state_.Mark(), before);
  EXPECT_EQ(state_.workload(WorkloadIndex(snap_, "gang")).placed, 0);
  // Two tasks fit in zone b.
  EXPECT_EQ(gangs.Place(state_, Ctx("gang"), 2), "");
  for (uint32_t n : MemberNodes(state_, WorkloadIndex(snap_, "gang"))) {
    EXPECT_EQ(n, Node("h100"));
  }
}

TEST_F(PlacementTest, RollbackRestoresEverything) {
  size_t mark = state_.Mark();
  Resources before = state_.queue(0).allocated;
  int32_t whole_before = state_.node(Node("h100")).whole_free;
  state_.Bind({WorkloadIndex(snap_, "two"), 0}, Placement{Node("h100"), {3, 4}});
  state_.Evict({WorkloadIndex(snap_, "three"), 0}, core::EvictionKind::kPreempt, "test");
  state_.Rollback(mark);
  EXPECT_EQ(state_.queue(0).allocated, before);
  EXPECT_EQ(state_.node(Node("h100")).whole_free, whole_before);
  EXPECT_TRUE(state_.IsPlaced({WorkloadIndex(snap_, "three"), 0}));
  EXPECT_FALSE(state_.IsPlaced({WorkloadIndex(snap_, "two"), 0}));
}

}  // namespace
}  // namespace allot::sched
