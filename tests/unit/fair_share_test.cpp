// Fair share through the whole computation, on clusters written as YAML.
#include "sched/fair_share.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace allot::sched {
namespace {

using testing::QueueIndex;
using testing::SnapshotOf;

int64_t GpuShare(const core::Snapshot& snap, const std::string& queue) {
  ClusterState state(snap);
  ComputeDemand(state);
  ComputeFairShare(state);
  return state.queue(QueueIndex(snap, queue)).fair_share.gpu();
}

TEST(FairShare, OverCommittedDeservedIsSplitInProportion) {
  auto snap = SnapshotOf(R"(name: f
nodes: [{name: n, gpus: 4}]
queues:
  - {name: a, deserved: {gpu: 4}}
  - {name: b, deserved: {gpu: 4}}
workloads:
  - {name: wa, queue: a, tasks: 4, gpu: 1}
  - {name: wb, queue: b, tasks: 4, gpu: 1}
)");
  EXPECT_EQ(GpuShare(snap, "a"), 2000);
  EXPECT_EQ(GpuShare(snap, "b"), 2000);
}

TEST(FairShare, NoDemandNoShare) {
  auto snap = SnapshotOf(R"(name: f
nodes: [{name: n, gpus: 4}]
queues:
  - {name: idle, deserved: {gpu: 2}}
  - {name: busy, deserved: {gpu: 2}}
workloads:
  - {name: w, queue: busy, tasks: 8, min: 1, gpu: 1}
)");
  EXPECT_EQ(GpuShare(snap, "idle"), 0);
  EXPECT_EQ(GpuShare(snap, "busy"), 4000);
}

TEST(FairShare, RemainderMilliGoesToLargestLeftover) {
  // 1 GPU over three equal queues: 333 each and one milli-GPU left over.
  auto snap = SnapshotOf(R"(name: f
nodes: [{name: n, gpus: 1}]
queues:
  - {name: a}
  - {name: b}
  - {name: c}
workloads:
  - {name: wa, queue: a, gpu: 1}
  - {name: wb, queue: b, gpu: 1}
  - {name: wc, queue: c, gpu: 1}
)");
  EXPECT_EQ(GpuShare(snap, "a"), 334);
  EXPECT_EQ(GpuShare(snap, "b"), 333);
  EXPECT_EQ(GpuShare(snap, "c"), 333);
}

TEST(FairShare, DemandIsCappedByLimitUpTheTree) {
  auto snap = SnapshotOf(R"(name: f
nodes: [{name: n, gpus: 8}]
queues:
  - {name: dept, limit: {gpu: 3}}
  - {name: team, parent: dept}
  - {name: other}
workloads:
  - {name: w, queue: team, tasks: 8, min: 1, gpu: 1}
  - {name: o, queue: other, tasks: 8, min: 1, gpu: 1}
)");
  EXPECT_EQ(GpuShare(snap, "dept"), 3000);
  EXPECT_EQ(GpuShare(snap, "team"), 3000);
  EXPECT_EQ(GpuShare(snap, "other"), 5000);
}

}  // namespace
}  // namespace allot::sched
