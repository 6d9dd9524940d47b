#include "sched/water_fill.h"

#include <algorithm>

#include "common/int128.h"

namespace allot::sched {

using allot::Int128;

std::vector<int64_t> WaterFill(int64_t amount, const std::vector<WaterFillEntry>& entries) {
  std::vector<int64_t> given(entries.size(), 0);
  std::vector<size_t> active;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].cap > 0 && entries[i].weight > 0) active.push_back(i);
  }
  while (amount > 0 && !active.empty()) {
    Int128 total_weight = 0;
    for (size_t i : active) total_weight += entries[i].weight;
    // Entries whose proportional share reaches their cap take the cap and
    // leave; the rest is split again among the others.
    std::vector<size_t> still_active;
    int64_t handed_to_capped = 0;
    for (size_t i : active) {
      int64_t room = entries[i].cap - given[i];
      Int128 share = static_cast<Int128>(amount) * entries[i].weight / total_weight;
      if (share >= room) {
        given[i] += room;
        handed_to_capped += room;
      } else {
        still_active.push_back(i);
      }
    }
    if (still_active.size() != active.size()) {
      amount -= handed_to_capped;
      active = std::move(still_active);
      continue;
    }
    // Nobody is capped: floors, then remainders by largest leftover.
    struct Leftover {
      Int128 fraction;
      size_t index;
    };
    std::vector<Leftover> leftovers;
    int64_t handed = 0;
    for (size_t i : active) {
      Int128 scaled = static_cast<Int128>(amount) * entries[i].weight;
      auto share = static_cast<int64_t>(scaled / total_weight);
      given[i] += share;
      handed += share;
      leftovers.push_back({scaled % total_weight, i});
    }
    amount -= handed;
    std::sort(leftovers.begin(), leftovers.end(), [&](const Leftover& a, const Leftover& b) {
      if (a.fraction != b.fraction) return a.fraction > b.fraction;
      return entries[a.index].order < entries[b.index].order;
    });
    for (const auto& l : leftovers) {
      if (amount == 0) break;
      if (given[l.index] < entries[l.index].cap) {
        ++given[l.index];
        --amount;
      }
    }
    break;
  }
  return given;
}

}  // namespace allot::sched
