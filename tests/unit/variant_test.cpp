// Workload variants (sim/variant/make_variant.h): each knob reaches the
// value asked, keeps the rest of the list as it was, and bad knobs are
// refused with the flag named.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "sim/variant/make_variant.h"

namespace allot::sim {
namespace {

OpenbCluster TwoModels() {
  OpenbCluster cluster;
  int big = *cluster.models.Add("G2");
  int small = *cluster.models.Add("T4");
  for (int i = 0; i < 20; ++i)
    cluster.nodes.push_back({"g" + std::to_string(i), 96000, 1 << 20, 8, big});
  for (int i = 0; i < 10; ++i)
    cluster.nodes.push_back({"t" + std::to_string(i), 32000, 1 << 18, 2, small});
  return cluster;
}

OpenbTask Task(int64_t cpu, int gpus, int64_t milli) {
  OpenbTask t;
  t.name = "base";
  t.cpu_milli = cpu;
  t.memory_mib = 1024;
  t.gpus = gpus;
  t.gpu_milli = milli;
  return t;
}

// 100 CPU-only, 300 fractional, 500 one-GPU, 50 multi-GPU tasks.
std::vector<OpenbTask> Base() {
  std::vector<OpenbTask> tasks;
  for (int i = 0; i < 100; ++i) tasks.push_back(Task(4000 + i * 10, 0, 0));
  for (int i = 0; i < 300; ++i) tasks.push_back(Task(2000 + i, 1, 100 + i * 2));
  for (int i = 0; i < 500; ++i) tasks.push_back(Task(8000 + i * 20, 1, 1000));
  for (int i = 0; i < 50; ++i) tasks.push_back(Task(16000, 2 + i % 7, 1000));
  return tasks;
}

using Shape = std::tuple<int64_t, int64_t, int, int64_t, std::string>;
std::map<Shape, int> Shapes(const std::vector<OpenbTask>& tasks) {
  std::map<Shape, int> shapes;
  for (const auto& t : tasks)
    ++shapes[{t.cpu_milli, t.memory_mib, t.gpus, t.gpu_milli, t.gpu_spec}];
  return shapes;
}

TEST(MakeVariant, WithNoKnobItHoldsTheBaseTasksUnderNewNames) {
  auto variant = MakeVariant(Base(), TwoModels(), VariantKnobs{});
  ASSERT_TRUE(variant) << variant.error().message;
  EXPECT_EQ(Shapes(*variant), Shapes(Base()));
  EXPECT_EQ((*variant)[0].name.rfind("variant-pod-", 0), 0u);
}

TEST(MakeVariant, EachShareReachesTheValueAskedAndKeepsTheGpuTaskCount) {
  OpenbCluster cluster = TwoModels();
  VariantMeasure base = MeasureVariant(Base());
  for (double share : {0.0, 20.0, 60.0, 100.0}) {
    VariantKnobs knobs;
    knobs.gpushare = share;
    auto variant = MakeVariant(Base(), cluster, knobs);
    ASSERT_TRUE(variant) << variant.error().message;
    VariantMeasure m = MeasureVariant(*variant);
    EXPECT_NEAR(m.gpushare, share, 1.0) << share;
    EXPECT_EQ(m.gpu_tasks, 850);
    EXPECT_EQ(m.cpu_only_tasks, 100);
    if (share < 100) {  // the others keep their proportion
      EXPECT_NEAR(m.multigpu / (100 - m.gpushare), base.multigpu / (100 - base.gpushare), 0.05);
    }
  }
  VariantKnobs multi;
  multi.multigpu = 45;
  auto variant = MakeVariant(Base(), cluster, multi);
  ASSERT_TRUE(variant);
  EXPECT_NEAR(MeasureVariant(*variant).multigpu, 45, 1.5);

  VariantKnobs spec;
  spec.gpuspec = 25;
  variant = MakeVariant(Base(), cluster, spec);
  ASSERT_TRUE(variant);
  EXPECT_NEAR(MeasureVariant(*variant).gpuspec, 25, 0.2);
  for (const auto& t : *variant) {
    if (t.allowed == 0) continue;
    int model = t.gpu_spec == "G2" ? 0 : 1;
    EXPECT_EQ(t.allowed, 1u << model);
    bool fits = std::any_of(cluster.nodes.begin(), cluster.nodes.end(), [&](const OpenbNode& n) {
      return n.model == model && n.gpus >= t.gpus && n.cpu_milli >= t.cpu_milli;
    });
    EXPECT_TRUE(fits) << t.gpu_spec << " " << t.gpus << " GPUs";
  }
}

TEST(MakeVariant, CpuKnobsScaleEveryTaskAndTheCpuOnlyCountAndAreSeeded) {
  VariantKnobs knobs;
  knobs.cpu_scale = 3;
  knobs.cpu_only_scale = 2.5;
  auto variant = MakeVariant(Base(), TwoModels(), knobs);
  ASSERT_TRUE(variant);
  EXPECT_EQ(MeasureVariant(*variant).cpu_only_tasks, 250);
  for (const auto& t : *variant) {
    EXPECT_LE(t.cpu_milli, 96000);  // the largest node
    if (t.gpus == 1 && t.gpu_milli == 1000) {
      EXPECT_GE(t.cpu_milli, 24000);
    }
  }
  auto again = MakeVariant(Base(), TwoModels(), knobs);
  ASSERT_TRUE(again);
  EXPECT_EQ(Shapes(*again), Shapes(*variant));
  EXPECT_EQ((*again)[7].cpu_milli, (*variant)[7].cpu_milli);
}

TEST(MakeVariant, BadKnobsAreRefusedNamingTheFlag) {
  OpenbCluster cluster = TwoModels();
  VariantKnobs bad;
  bad.gpushare = 120;
  auto refused = MakeVariant(Base(), cluster, bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "gpushare");
  EXPECT_NE(refused.error().message.find("0 to 100"), std::string::npos);

  VariantKnobs too_much;
  too_much.gpushare = 70;
  too_much.multigpu = 40;
  EXPECT_FALSE(MakeVariant(Base(), cluster, too_much));

  std::vector<OpenbTask> no_multi = Base();
  no_multi.erase(std::remove_if(no_multi.begin(), no_multi.end(),
                                [](const OpenbTask& t) { return t.gpus > 1; }),
                 no_multi.end());
  VariantKnobs multi;
  multi.multigpu = 10;
  refused = MakeVariant(no_multi, cluster, multi);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "multigpu");

  VariantKnobs scale;
  scale.cpu_scale = 0;
  refused = MakeVariant(Base(), cluster, scale);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "cpu-scale");
}

}  // namespace
}  // namespace allot::sim
