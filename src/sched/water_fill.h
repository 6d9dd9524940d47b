// Water-filling in exact integers: the arithmetic under fair share.
#pragma once

#include <cstdint>
#include <vector>

namespace allot::sched {

struct WaterFillEntry {
  int64_t cap = 0;     // the most this entry may receive
  int64_t weight = 0;  // its share of what is split; 0 receives nothing
  uint32_t order = 0;  // tie-break for remainders: lower first
};

// Splits `amount` among entries in proportion to weight, never giving an
// entry more than its cap; what a capped entry cannot take is split among
// the others. Remainders of the integer division go one unit at a time to
// the entries with the largest leftover fraction, ties by `order`. Returns
// what each entry receives (same order as `entries`); the sum is
// min(amount, the sum of caps of entries with weight > 0).
std::vector<int64_t> WaterFill(int64_t amount, const std::vector<WaterFillEntry>& entries);

}  // namespace allot::sched
