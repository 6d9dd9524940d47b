#include "sched/placement/gang_placer.h"

#include <map>

namespace allot::sched {

std::vector<uint32_t> UnplacedTasks(const ClusterState& state, uint32_t w, int32_t count) {
  std::vector<uint32_t> out;
  const auto& spec = state.spec(w);
  for (uint32_t t = 0;
       t < static_cast<uint32_t>(spec.tasks) && static_cast<int32_t>(out.size()) < count; ++t) {
    if (!state.IsPlaced({w, t})) out.push_back(t);
  }
  return out;
}

std::vector<uint32_t> MemberNodes(const ClusterState& state, uint32_t w) {
  std::vector<uint32_t> nodes;
  const auto& spec = state.spec(w);
  for (uint32_t t = 0; t < static_cast<uint32_t>(spec.tasks); ++t) {
    const auto& p = state.placement({w, t});
    if (p) nodes.push_back(p->node);
  }
  return nodes;
}

std::string GangPlacer::PlaceSequentially(ClusterState& state, PlacementContext ctx,
                                          int32_t count) const {
  size_t mark = state.Mark();
  std::vector<uint32_t> tasks = UnplacedTasks(state, ctx.workload, count);
  ctx.member_nodes = MemberNodes(state, ctx.workload);
  int32_t placed = 0;
  for (uint32_t t : tasks) {
    PlacementFailure failure;
    auto p = placer_.PlaceTask(state, ctx, &failure);
    if (!p) {
      state.Rollback(mark);
      std::string why = failure.Describe(state, ctx.workload);
      if (count == 1) return why;
      return "gang of " + std::to_string(count) + " tasks does not fit whole: only " +
             std::to_string(placed) + " of the " + std::to_string(count) + " tasks fit at once; " +
             why;
    }
    ctx.member_nodes.push_back(p->node);
    state.Bind({ctx.workload, t}, *p);
    ++placed;
  }
  return {};
}

namespace {

// Free GPU capacity (milli) left on the given nodes.
int64_t FreeMilli(const ClusterState& state, const std::vector<uint32_t>& nodes) {
  int64_t free = 0;
  for (uint32_t n : nodes) {
    for (const auto& gpu : state.node(n).gpus) free += core::kMilliPerGpu - gpu.milli_used;
  }
  return free;
}

}  // namespace

bool GangPlacer::PlaceInTightestDomain(ClusterState& state, const PlacementContext& ctx,
                                       int32_t count, const std::string& level,
                                       const std::string& inner_level) const {
  // The domains of `level` among the nodes ctx allows.
  std::map<std::string, std::vector<uint32_t>> domains;
  for (uint32_t n = 0; n < state.node_count(); ++n) {
    const std::string& value = state.node_label(n, level);
    if (value.empty()) continue;
    if (!ctx.domain_level.empty() && state.node_label(n, ctx.domain_level) != ctx.domain_value) {
      continue;
    }
    domains[value].push_back(n);
  }
  const std::string* best = nullptr;
  int64_t best_left = 0;
  for (const auto& [value, nodes] : domains) {
    PlacementContext inner = ctx;
    inner.domain_level = level;
    inner.domain_value = value;
    size_t mark = state.Mark();
    bool ok = inner_level.empty() ? PlaceSequentially(state, inner, count).empty()
                                  : (PlaceInTightestDomain(state, inner, count, inner_level, "") ||
                                     PlaceSequentially(state, inner, count).empty());
    if (ok) {
      int64_t left = FreeMilli(state, nodes);
      if (best == nullptr || left < best_left) {
        best = &value;
        best_left = left;
      }
    }
    state.Rollback(mark);
  }
  if (best == nullptr) return false;
  PlacementContext chosen = ctx;
  chosen.domain_level = level;
  chosen.domain_value = *best;
  if (!inner_level.empty() && PlaceInTightestDomain(state, chosen, count, inner_level, "")) {
    return true;
  }
  return PlaceSequentially(state, chosen, count).empty();
}

std::string GangPlacer::Place(ClusterState& state, const PlacementContext& ctx,
                              int32_t count) const {
  if (count <= 0) return {};
  const auto& topology = state.spec(ctx.workload).topology;
  if (!topology.required.empty()) {
    // Tasks joining running members stay in the members' domain.
    std::vector<uint32_t> members = MemberNodes(state, ctx.workload);
    if (!members.empty()) {
      PlacementContext joined = ctx;
      joined.domain_level = topology.required;
      joined.domain_value = state.node_label(members.front(), topology.required);
      return PlaceSequentially(state, joined, count);
    }
    std::string inner = topology.preferred == topology.required ? "" : topology.preferred;
    if (PlaceInTightestDomain(state, ctx, count, topology.required, inner)) return {};
    return "gang of " + std::to_string(count) + " tasks does not fit in any single '" +
           topology.required + "' domain: the topology requires all tasks in one";
  }
  if (!topology.preferred.empty() &&
      PlaceInTightestDomain(state, ctx, count, topology.preferred, "")) {
    return {};
  }
  return PlaceSequentially(state, ctx, count);
}

}  // namespace allot::sched
