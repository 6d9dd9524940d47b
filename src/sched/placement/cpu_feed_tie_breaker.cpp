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

bool CpuFeedTieBreaker::Compares(const ClusterState& state, uint32_t a, uint32_t b) const {
  return state.node_group(a) == state.node_group(b);
}

std::optional<int64_t> CpuFeedTieBreaker::Key(const ClusterState& state,
                                              const PlacementContext& ctx, uint32_t n) const {
  if (state.spec(ctx.workload).request.WholeGpus() == 0) return std::nullopt;  // fgd's choice
  std::optional<double> growth = cpu_aware_.Growth(state, ctx, n);
  if (!growth) return std::nullopt;
  return static_cast<int64_t>(std::floor(*growth));
}

}  // namespace allot::sched
