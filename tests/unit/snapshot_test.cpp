// core::ValidateSnapshot names the problem and the field.
#include "core/snapshot.h"

#include <gtest/gtest.h>

namespace allot::core {
namespace {

Snapshot Base() {
  Snapshot s;
  NodeSpec node;
  node.name = "n0";
  node.cpu_milli = 8000;
  node.memory_mib = 1024;
  node.gpus = {{0, "g0", "A100", 80 * 1024}, {1, "g1", "A100", 80 * 1024}};
  s.nodes.push_back(node);
  QueueSpec dept;
  dept.name = "dept";
  dept.deserved[Resource::kGpu] = 2000;
  QueueSpec team;
  team.name = "team";
  team.parent = "dept";
  team.deserved[Resource::kGpu] = 2000;
  s.queues = {dept, team};
  Workload w;
  w.spec.name = "w";
  w.spec.queue = "team";
  w.spec.request.gpu_milli = 1000;
  w.tasks.resize(1);
  s.workloads.push_back(w);
  return s;
}

TEST(ValidateSnapshot, AcceptsAGoodSnapshot) {
  EXPECT_TRUE(ValidateSnapshot(Base()).ok());
}

TEST(ValidateSnapshot, RejectsNegativeQuota) {
  Snapshot s = Base();
  s.queues[1].deserved[Resource::kGpu] = -1;
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().field, "queues/team/deserved");
}

TEST(ValidateSnapshot, RejectsChildrenAboveTheirParent) {
  Snapshot s = Base();
  s.queues[1].deserved[Resource::kGpu] = 3000;
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().field, "queues/dept/deserved");
  EXPECT_NE(st.error().message.find("children of queue 'dept'"), std::string::npos);
}

TEST(ValidateSnapshot, RejectsAFractionOnAMultiGpuTask) {
  Snapshot s = Base();
  s.workloads[0].spec.request.gpu_milli = 1500;
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().field, "workloads/w/gpu");
}

TEST(ValidateSnapshot, RejectsAPlacementOnAMissingGpu) {
  Snapshot s = Base();
  s.workloads[0].tasks[0].placement = Placement{0, {5}};
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().field, "workloads/w/placement");
  EXPECT_NE(st.error().message.find("GPU 5"), std::string::npos);
}

TEST(ValidateSnapshot, RejectsAnOverAllocatedGpu) {
  Snapshot s = Base();
  s.workloads[0].tasks[0].placement = Placement{0, {0}};
  Workload second = s.workloads[0];
  second.spec.name = "w2";
  s.workloads.push_back(second);
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("over-allocates GPU 0"), std::string::npos);
}

TEST(ValidateSnapshot, RejectsAGpuListedTwiceInOneTask) {
  Snapshot s = Base();
  s.workloads[0].spec.request.gpu_milli = 2000;
  s.workloads[0].tasks[0].placement = Placement{0, {1, 1}};
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().field, "workloads/w/placement");
  EXPECT_NE(st.error().message.find("lists GPU 1 twice"), std::string::npos);
  s.workloads[0].tasks[0].placement = Placement{0, {1, 0}};
  EXPECT_TRUE(ValidateSnapshot(s).ok());
}

TEST(ValidateSnapshot, RejectsAWorkloadNameUsedTwice) {
  Snapshot s = Base();
  s.workloads.push_back(s.workloads[0]);
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().field, "workloads/w/name");
  EXPECT_NE(st.error().message.find("used twice"), std::string::npos);
}

TEST(ValidateSnapshot, RejectsAWorkloadOnADepartment) {
  Snapshot s = Base();
  s.workloads[0].spec.queue = "dept";
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().field, "workloads/w/queue");
  EXPECT_NE(st.error().message.find("leaf queue"), std::string::npos);
}

TEST(ValidateSnapshot, RejectsACycleInTheTree) {
  Snapshot s = Base();
  s.queues[0].parent = "team";
  Status st = ValidateSnapshot(s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("own ancestor"), std::string::npos);
}

}  // namespace
}  // namespace allot::core
