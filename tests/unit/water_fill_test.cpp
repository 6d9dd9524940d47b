#include "sched/water_fill.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>

namespace allot::sched {
namespace {

TEST(WaterFill, SplitsByWeight) {
  auto got = WaterFill(4000, {{10000, 1, 0}, {10000, 3, 1}});
  EXPECT_EQ(got, (std::vector<int64_t>{1000, 3000}));
}

TEST(WaterFill, CappedEntryLeavesItsRestToOthers) {
  auto got = WaterFill(10000, {{1000, 5, 0}, {20000, 1, 1}});
  EXPECT_EQ(got, (std::vector<int64_t>{1000, 9000}));
}

TEST(WaterFill, ZeroWeightGetsNothing) {
  auto got = WaterFill(5000, {{5000, 0, 0}, {2000, 1, 1}});
  EXPECT_EQ(got, (std::vector<int64_t>{0, 2000}));
}

TEST(WaterFill, RemaindersGoToLargestLeftoverThenOrder) {
  // 10 split 1:1:1 -> 3 each, one unit left; equal leftovers: lowest order.
  auto got = WaterFill(10, {{100, 1, 2}, {100, 1, 0}, {100, 1, 1}});
  EXPECT_EQ(got, (std::vector<int64_t>{3, 4, 3}));
  // 5 split 1:2 -> 1.67 and 3.33: the larger leftover (0.67) takes it.
  EXPECT_EQ(WaterFill(5, {{100, 1, 0}, {100, 2, 1}}), (std::vector<int64_t>{2, 3}));
}

TEST(WaterFill, RandomSplitsAreExactAndBounded) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 2000; ++round) {
    size_t n = 1 + rng() % 6;
    std::vector<WaterFillEntry> entries;
    int64_t cap_sum = 0;
    for (size_t i = 0; i < n; ++i) {
      WaterFillEntry e{static_cast<int64_t>(rng() % 5000), static_cast<int64_t>(rng() % 4),
                       static_cast<uint32_t>(i)};
      if (e.weight > 0) cap_sum += e.cap;
      entries.push_back(e);
    }
    int64_t amount = static_cast<int64_t>(rng() % 12000);
    auto got = WaterFill(amount, entries);
    int64_t sum = std::accumulate(got.begin(), got.end(), int64_t{0});
    EXPECT_EQ(sum, std::min(amount, cap_sum));
    for (size_t i = 0; i < n; ++i) {
      EXPECT_GE(got[i], 0);
      EXPECT_LE(got[i], entries[i].cap);
      if (entries[i].weight == 0) {
        EXPECT_EQ(got[i], 0);
      }
    }
  }
}

}  // namespace
}  // namespace allot::sched
