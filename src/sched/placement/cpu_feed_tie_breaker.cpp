#include <cmath>

#include "sched/placement/tie_breakers.h"

namespace allot::sched {
namespace {

FragmentationRules CpuAwareRules() {
  FragmentationRules rules;
  rules.cpu_feeds_copies = true;
  return rules;
}

}  // namespace

CpuFeedTieBreaker::CpuFeedTieBreaker() : cpu_aware_(CpuAwareRules()) {}

int CpuFeedTieBreaker::Compare(const ClusterState& state, const PlacementContext& ctx, uint32_t a,
                               uint32_t b) const {
  if (state.node_group(a) != state.node_group(b)) return 0;
  std::optional<double> growth_a = cpu_aware_.Growth(state, ctx, a);
  std::optional<double> growth_b = cpu_aware_.Growth(state, ctx, b);
  if (!growth_a || !growth_b) return 0;
  // Whole milli-GPU: smaller differences are rounding noise of the weighted
  // sum, and letting them reorder near-equal nodes cost up to 3 points in
  // the packing experiment (docs/simulation.md).
  double a_milli = std::floor(*growth_a);
  double b_milli = std::floor(*growth_b);
  return a_milli < b_milli ? -1 : (a_milli > b_milli ? 1 : 0);
}

}  // namespace allot::sched
