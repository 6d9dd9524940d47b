// How high any policy can get at 100 % arrived, from the fractional tasks
// alone. Whatever room the fractional tasks leave on the GPUs they share fits
// no whole-GPU task, and no fractional one either once every fractional task
// has been placed. So the fewest GPUs that can hold all the fractions bounds
// the allocation ratio from above for every policy that places every
// fractional task, however much it knows in advance; a policy that fails
// some fractional tasks trades their request for the room they would have
// left, and a second, looser bound covers that. Both ignore CPU,
// memory, node boundaries and GPU models, each of which can only lower the
// best reachable ratio further.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "sim/openb.h"

namespace allot::sim {

// A lower bound on the GPUs that fractional tasks need, with the price of
// each size that proves it.
struct FractionPacking {
  // The linear-programming relaxation of bin packing over every way to fill
  // one GPU (Gilmore and Gomory), solved by column generation: at least
  // this many GPUs hold the tasks. Not rounded.
  double min_gpus = 0;
  struct Size {
    int64_t tasks = 0;  // how many tasks ask for this size
    // A price in GPUs such that the tasks any one GPU can hold are worth at
    // most 1 together, checked against every way to fill a GPU; min_gpus is
    // the tasks' total worth. So any subset of the tasks needs at least its
    // own worth in GPUs, and the bound holds even if the column generation
    // stopped early.
    double price = 0;
  };
  std::map<int64_t, Size> sizes;  // by milli-GPU

  // min_gpus rounded up; the tolerance absorbs floating-point rounding in
  // the prices (a bound of k + 1e-7 GPUs counts as k, which stays a bound).
  int64_t RoundedUp() const;
};

// The bound for fractional tasks of these per-GPU requests (milli-GPU, each
// 1..999); zero GPUs and no prices for no tasks.
FractionPacking BoundFractionPacking(const std::vector<int64_t>& gpu_milli);

// The bound rounded up: no packing of these tasks uses fewer GPUs.
int64_t MinGpusForFractions(const std::vector<int64_t>& gpu_milli);

struct FractionCeiling {
  int64_t arrived_milli = 0;      // GPU request of the tasks arrived by 100 %
  int64_t fraction_milli = 0;     // of which fractional tasks
  int64_t min_fraction_gpus = 0;  // MinGpusForFractions of those
  // min(arrived, capacity - the room the fractions must leave) / capacity,
  // in %: the bound for a policy that places every fractional task.
  double all_placed_pct = 0;
  // The bound for every policy, in %: a policy that fails some fractional
  // tasks loses their request but saves the room they would leave. The
  // most that trade can give, with the failed tasks chosen freely (even in
  // part), from the prices above.
  double any_policy_pct = 0;
};

// The ceilings at 100 % arrived for a workload in arrival order on
// `capacity_milli` of GPUs, over the tasks whose arrival keeps the arrived
// request at or below the capacity (the experiment's 100 % point).
FractionCeiling FractionCeilingAt100(const std::vector<OpenbTask>& workload,
                                     int64_t capacity_milli);

}  // namespace allot::sim
