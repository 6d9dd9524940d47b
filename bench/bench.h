// Scale benchmarks of the scheduler core (issue 2). Each builds its cluster
// untimed, then times whole scheduling cycles, repeated, and prints one JSON
// line per configuration: name, nodes, median_ms, p95_ms, peak_rss_mib, what
// the plan did (so a result that did not do the work is visible), and a
// baseline timed in the same run on the same snapshot: a cycle with the
// allocate action only (baseline_ms, ratio_to_baseline).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"

namespace allot::bench {

struct BenchOptions {
  std::string name;            // reclaim | cycle | place
  std::vector<int64_t> nodes;  // one configuration per entry
  int64_t pending = 50'000;    // cycle
  int64_t tasks = 50'000;      // place
  int32_t repeat = 5;
  uint64_t seed = 42;
};

// The benchmarks there are.
const std::vector<std::string>& BenchNames();

// Runs one benchmark for every node count; prints JSON lines to `out`.
// Fails when the name is unknown or a plan does not do the expected work.
Status RunBench(const BenchOptions& options, std::ostream& out);

}  // namespace allot::bench
