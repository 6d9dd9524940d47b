#include "sched/victim_search.h"

#include <algorithm>
#include <map>
#include <queue>
#include <tuple>
#include <unordered_map>

#include "sched/placement/filters.h"
#include "sched/placement/gang_placer.h"
#include "sched/placement/gpu_picker.h"

namespace allot::sched {
namespace {

// Copies a node's free capacity into `trial`, reusing its storage.
void CopyNode(const NodeState& node, TrialNode& trial) {
  trial.gpus.assign(node.gpus.begin(), node.gpus.end());
  trial.whole_free = node.whole_free;
  trial.cpu_free = node.cpu_free;
  trial.memory_free = node.memory_free;
}

// Gives back to the trial node what the unit's tasks hold on node n.
void Release(const ClusterState& state, const VictimUnit& unit, uint32_t n, TrialNode& trial) {
  const auto& request = state.spec(unit.workload).request;
  unit.ForEachTask(state, [&](uint32_t t) {
    const auto& p = state.placement({unit.workload, t});
    if (p->node != n) return;
    trial.cpu_free += request.cpu_milli;
    trial.memory_free += request.memory_mib;
    for (int32_t g : p->gpus) {
      GpuState& gpu = trial.gpus[g];
      core::GpuShare share = core::ShareOfGpu(request, gpu.memory_total);
      gpu.milli_used -= share.milli;
      gpu.memory_used -= share.memory_mib;
      if (gpu.IsFree()) ++trial.whole_free;
    }
  });
}

bool Fits(const ClusterState& state, const PlacementContext& ctx, uint32_t n,
          const TrialNode& trial) {
  const auto& request = state.spec(ctx.workload).request;
  if (trial.cpu_free < request.cpu_milli || trial.memory_free < request.memory_mib) return false;
  int32_t usable = trial.whole_free;
  if (!ReservationFilter::MayUseReserved(state, ctx, n)) usable -= state.node(n).reserved_gpus;
  return GpusFit(state, ctx, trial.gpus, std::max(usable, 0));
}

Resources UsageOfUnit(const ClusterState& state, const VictimUnit& unit) {
  Resources usage;
  unit.ForEachTask(state, [&](uint32_t t) {
    usage += state.UsageOf({unit.workload, t}, *state.placement({unit.workload, t}));
  });
  return usage;
}

uint32_t FirstPlaced(const ClusterState& state, const VictimUnit& unit) {
  uint32_t first = kNone;
  unit.ForEachTask(state, [&](uint32_t t) { first = std::min(first, t); });
  return first;
}

// The units holding resources on node n, in victim order: lowest priority,
// then youngest, first. Fills `units` (cleared first) to reuse its storage.
void UnitsOnNode(const ClusterState& state, uint32_t self, uint32_t n,
                 std::vector<VictimUnit>& units) {
  units.clear();
  // (workload, tasks above an elastic minimum not yet taken); whole units
  // are marked with -1 once made. Nodes hold few workloads: a flat list.
  std::vector<std::pair<uint32_t, int32_t>> seen;
  for (TaskRef t : state.node(n).tasks) {
    if (t.workload == self) continue;
    auto it = std::find_if(seen.begin(), seen.end(),
                           [&](const auto& e) { return e.first == t.workload; });
    if (it == seen.end()) {
      const auto& spec = state.spec(t.workload);
      seen.emplace_back(t.workload, state.workload(t.workload).placed - spec.min_tasks);
      it = seen.end() - 1;
    }
    if (it->second > 0) {
      --it->second;
      units.push_back({t.workload, t.task});
      continue;
    }
    if (it->second < 0) continue;  // whole unit already made
    it->second = -1;
    units.push_back({t.workload, kNone});
  }
  // Victim order: lowest priority first; tasks above an elastic minimum
  // before whole workloads; then the youngest. Keys are made once per unit.
  struct Keyed {
    std::tuple<int32_t, int, Time, uint32_t, uint32_t> key;
    VictimUnit unit;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(units.size());
  for (const auto& u : units) {
    uint32_t first = u.IsWhole() ? FirstPlaced(state, u) : u.task;
    Time since = state.running_since({u.workload, first});
    keyed.push_back({{state.workload(u.workload).priority, u.IsWhole() ? 1 : 0, -since,
                      UINT32_MAX - u.workload, UINT32_MAX - u.task},
                     u});
  }
  std::sort(keyed.begin(), keyed.end(),
            [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
  for (size_t i = 0; i < keyed.size(); ++i) units[i] = keyed[i].unit;
}

}  // namespace

std::optional<VictimChoice> VictimSearch::OnNode(const ClusterState& state,
                                                 const PlacementContext& ctx, uint32_t n,
                                                 const VictimRules& rules) const {
  const NodeState& node = state.node(n);
  TrialNode& trial = trial_;
  CopyNode(node, trial);
  if (Fits(state, ctx, n, trial)) return VictimChoice{n, {}, 0};
  std::vector<VictimUnit>& candidates = candidates_;
  UnitsOnNode(state, ctx.workload, n, candidates);
  std::vector<VictimUnit>& chosen = chosen_;
  chosen.clear();
  TakenResources& taken = taken_;
  taken.clear();
  bool fits = false;
  for (const auto& unit : candidates) {
    Resources usage = UsageOfUnit(state, unit);
    // A whole workload includes its tasks above the minimum that may have
    // been taken already: it replaces them, and they are not counted twice.
    bool supersedes = unit.IsWhole() && std::any_of(chosen.begin(), chosen.end(), [&](auto& c) {
                        return c.workload == unit.workload;
                      });
    if (supersedes) {
      TakenResources others;
      for (size_t i = 0; i < chosen.size(); ++i) {
        if (chosen[i].workload != unit.workload) others.push_back(taken[i]);
      }
      if (!rules.MayEvict(state, unit, others, n)) continue;
      size_t kept = 0;
      for (size_t i = 0; i < chosen.size(); ++i) {
        if (chosen[i].workload == unit.workload) continue;
        chosen[kept] = chosen[i];
        taken[kept] = taken[i];
        ++kept;
      }
      chosen.resize(kept);
      taken.resize(kept);
      CopyNode(node, trial);
      for (const auto& c : chosen) Release(state, c, n, trial);
    } else if (!rules.MayEvict(state, unit, taken, n)) {
      continue;
    }
    Release(state, unit, n, trial);
    taken.emplace_back(state.workload(unit.workload).queue, usage);
    chosen.push_back(unit);
    if (Fits(state, ctx, n, trial)) {
      fits = true;
      break;
    }
  }
  if (!fits) return std::nullopt;
  // Put back every unit the task turns out not to need, the last taken (the
  // most valuable) first. A single unit is needed by definition.
  for (size_t i = chosen.size(); chosen.size() > 1 && i-- > 0;) {
    CopyNode(node, without_);
    for (size_t j = 0; j < chosen.size(); ++j) {
      if (j != i) Release(state, chosen[j], n, without_);
    }
    if (Fits(state, ctx, n, without_)) chosen.erase(chosen.begin() + static_cast<ptrdiff_t>(i));
  }
  VictimChoice choice{n, chosen, 0};
  for (const auto& unit : choice.units) {
    choice.evicted_gpu_milli += UsageOfUnit(state, unit).gpu();
  }
  return choice;
}

namespace {

// A necessary condition for the task to fit on node n once `extra` more is
// free there: the totals suffice (where on which GPU is OnNode's business).
bool TotalsSuffice(const ClusterState& state, const PlacementContext& ctx, uint32_t n,
                   const Resources& extra) {
  const Resources& need = state.workload(ctx.workload).task_estimate;
  const NodeState& node = state.node(n);
  int64_t free_gpu = 0;
  for (const GpuState& gpu : node.gpus) free_gpu += core::kMilliPerGpu - gpu.milli_used;
  return free_gpu + extra.gpu() >= need.gpu() &&
         node.cpu_free + extra[core::Resource::kCpu] >= need[core::Resource::kCpu] &&
         node.memory_free + extra[core::Resource::kMemory] >= need[core::Resource::kMemory];
}

}  // namespace

VictimOrder::VictimOrder(const ClusterState& state) {
  std::vector<std::pair<Time, uint32_t>> started;  // earliest task start, workload
  for (uint32_t w = 0; w < state.workload_count(); ++w) {
    if (state.workload(w).placed == 0 || !state.workload(w).preemptible) continue;
    Time since = core::kNever;
    auto tasks = static_cast<uint32_t>(state.spec(w).tasks);
    for (uint32_t t = 0; t < tasks; ++t) {
      if (state.IsPlaced({w, t})) since = std::min(since, state.running_since({w, t}));
    }
    workloads_.push_back(w);
    started.emplace_back(since, w);
  }
  std::vector<Time> since_of(state.workload_count(), 0);
  for (const auto& [since, w] : started) since_of[w] = since;
  std::sort(workloads_.begin(), workloads_.end(), [&](uint32_t a, uint32_t b) {
    const WorkloadState& sa = state.workload(a);
    const WorkloadState& sb = state.workload(b);
    if (sa.priority != sb.priority) return sa.priority < sb.priority;
    if (since_of[a] != since_of[b]) return since_of[a] > since_of[b];
    return a > b;
  });
}

bool VictimSearch::PlaceBySingleVictim(ClusterState& state, const PlacementContext& ctx, uint32_t t,
                                       const VictimRules& rules,
                                       const std::vector<bool>& losing) const {
  if (visited_.size() != state.node_count()) visited_.assign(state.node_count(), 0);
  if (++stamp_ == 0) {
    visited_.assign(state.node_count(), 0);
    stamp_ = 1;
  }
  const auto& order = order_->workloads();
  for (size_t i = order_->FirstLive(state); i < order.size(); ++i) {
    uint32_t victim = order[i];
    if (victim == ctx.workload || state.workload(victim).placed == 0) continue;
    if (!losing[state.workload(victim).queue] || !rules.WorkloadMayLose(state, victim)) continue;
    std::optional<VictimChoice> found;
    VictimUnit{victim, kNone}.ForEachTask(state, [&](uint32_t task) {
      uint32_t n = state.placement({victim, task})->node;
      if (found || visited_[n] == stamp_) return;
      // This victim alone must free enough on n, or it is not the one.
      Resources alone;
      VictimUnit{victim, kNone}.ForEachTask(state, [&](uint32_t other) {
        const auto& p = *state.placement({victim, other});
        if (p.node == n) alone += state.UsageOf({victim, other}, p);
      });
      if (!TotalsSuffice(state, ctx, n, alone)) return;
      visited_[n] = stamp_;  // what OnNode finds on n does not depend on the victim
      if (placer_.Check(state, ctx, n, /*static_only=*/true) != FilterFailure::kPass) return;
      auto choice = OnNode(state, ctx, n, rules);
      if (choice && choice->units.size() == 1) found = std::move(choice);
    });
    if (found) return Apply(state, ctx, t, *found, rules);
  }
  return false;
}

std::vector<bool> VictimSearch::LosingQueues(const ClusterState& state, const VictimRules& rules) {
  std::vector<bool> losing(state.queue_count(), false);
  bool any = false;
  for (uint32_t q = 0; q < state.queue_count(); ++q) {
    if (state.queue(q).leaf && rules.QueueMayLose(state, q)) losing[q] = any = true;
  }
  if (!any) losing.clear();
  return losing;
}

bool VictimSearch::WorthSearching(const ClusterState& state, const PlacementContext& ctx,
                                  uint32_t n, const std::vector<bool>& losing,
                                  const VictimRules& rules) const {
  Resources evictable;
  for (TaskRef t : state.node(n).tasks) {
    if (t.workload != ctx.workload && losing[state.workload(t.workload).queue] &&
        state.workload(t.workload).preemptible && rules.WorkloadMayLose(state, t.workload)) {
      evictable += state.UsageOf(t, *state.placement(t));
    }
  }
  return TotalsSuffice(state, ctx, n, evictable);
}

std::vector<VictimChoice> VictimSearch::Choices(const ClusterState& state,
                                                const PlacementContext& ctx,
                                                const VictimRules& rules) const {
  std::vector<VictimChoice> choices;
  std::vector<bool> losing = LosingQueues(state, rules);
  if (losing.empty()) return choices;
  for (uint32_t n = 0; n < state.node_count(); ++n) {
    if (placer_.Check(state, ctx, n, /*static_only=*/true) != FilterFailure::kPass) continue;
    if (!WorthSearching(state, ctx, n, losing, rules)) continue;
    auto choice = OnNode(state, ctx, n, rules);
    if (choice) choices.push_back(std::move(*choice));
  }
  auto near = [&](uint32_t n) {
    return std::find(ctx.member_nodes.begin(), ctx.member_nodes.end(), n) != ctx.member_nodes.end();
  };
  std::stable_sort(choices.begin(), choices.end(),
                   [&](const VictimChoice& a, const VictimChoice& b) {
                     if (a.units.size() != b.units.size()) return a.units.size() < b.units.size();
                     if (a.evicted_gpu_milli != b.evicted_gpu_milli) {
                       return a.evicted_gpu_milli < b.evicted_gpu_milli;
                     }
                     return near(a.node) && !near(b.node);
                   });
  return choices;
}

bool VictimSearch::Apply(ClusterState& state, const PlacementContext& ctx, uint32_t t,
                         const VictimChoice& choice, const VictimRules& rules) {
  size_t mark = state.Mark();
  for (const auto& unit : choice.units) {
    std::string reason = rules.EvictionReason(state, unit.workload);
    unit.ForEachTask(state, [&](uint32_t task) {
      state.Evict({unit.workload, task}, rules.Kind(), reason);
    });
  }
  auto gpus = Placer::GpusOn(state, ctx, choice.node);
  const auto& request = state.spec(ctx.workload).request;
  const NodeState& node = state.node(choice.node);
  if (!gpus || node.cpu_free < request.cpu_milli || node.memory_free < request.memory_mib) {
    state.Rollback(mark);
    return false;
  }
  state.Bind({ctx.workload, t}, Placement{choice.node, std::move(*gpus)});
  return true;
}

std::optional<int> VictimSearch::PlaceInDomain(ClusterState& state, const PlacementContext& ctx,
                                               int32_t count, const VictimRules& rules) const {
  // Every node's least disruptive choice, computed once and kept in a heap.
  // Taking victims only makes the rules stricter (queues lose allocation,
  // the reclaimer gains), so a cached choice can only have grown worse: the
  // best is re-checked when it comes up, and only nodes an eviction or a
  // bind touched are computed afresh.
  size_t mark = state.Mark();
  PlacementContext task_ctx = ctx;
  task_ctx.member_nodes = MemberNodes(state, ctx.workload);
  using Key = std::tuple<size_t, int64_t, int, uint32_t>;  // units, GPUs, far, node
  auto key_of = [&](const VictimChoice& c) {
    bool near = std::find(task_ctx.member_nodes.begin(), task_ctx.member_nodes.end(), c.node) !=
                task_ctx.member_nodes.end();
    return Key{c.units.size(), c.evicted_gpu_milli, near ? 0 : 1, c.node};
  };
  std::priority_queue<Key, std::vector<Key>, std::greater<>> heap;
  std::vector<bool> losing = LosingQueues(state, rules);
  if (losing.empty()) return std::nullopt;
  if (count == 1 && order_ != nullptr && task_ctx.member_nodes.empty()) {
    std::vector<uint32_t> task = UnplacedTasks(state, ctx.workload, 1);
    if (!task.empty() && PlaceBySingleVictim(state, task_ctx, task.front(), rules, losing)) {
      return 1;
    }
  }
  std::vector<bool> eligible(state.node_count(), false);
  // One task needs only the best node: the scan stops at a choice no node
  // can beat (one victim, no more GPU than the task asks for).
  const int64_t task_gpu = state.workload(ctx.workload).task_estimate.gpu();
  for (uint32_t n = 0; n < state.node_count(); ++n) {
    if (placer_.Check(state, task_ctx, n, /*static_only=*/true) != FilterFailure::kPass) continue;
    eligible[n] = true;
    if (!WorthSearching(state, task_ctx, n, losing, rules)) continue;
    auto choice = OnNode(state, task_ctx, n, rules);
    if (!choice) continue;
    heap.push(key_of(*choice));
    if (count == 1 && choice->units.size() <= 1 && choice->evicted_gpu_milli <= task_gpu) break;
  }
  int evicted = 0;
  for (uint32_t t : UnplacedTasks(state, ctx.workload, count)) {
    bool placed = false;
    while (!placed && !heap.empty()) {
      Key top = heap.top();
      heap.pop();
      uint32_t n = std::get<3>(top);
      auto fresh = OnNode(state, task_ctx, n, rules);
      if (!fresh) continue;
      if (key_of(*fresh) != top) {
        heap.push(key_of(*fresh));
        continue;
      }
      std::vector<uint32_t> touched = {n};
      for (const auto& unit : fresh->units) {
        unit.ForEachTask(state, [&](uint32_t task) {
          uint32_t node = state.placement({unit.workload, task})->node;
          if (node != n) touched.push_back(node);
        });
      }
      if (!Apply(state, task_ctx, t, *fresh, rules)) continue;
      evicted += static_cast<int>(fresh->units.size());
      task_ctx.member_nodes.push_back(n);
      placed = true;
      for (uint32_t other : touched) {
        if (!eligible[other]) continue;
        if (auto choice = OnNode(state, task_ctx, other, rules)) heap.push(key_of(*choice));
      }
    }
    if (!placed) {
      state.Rollback(mark);
      return std::nullopt;
    }
  }
  return evicted;
}

std::optional<int> VictimSearch::PlaceWithVictims(ClusterState& state, const PlacementContext& ctx,
                                                  int32_t count, const VictimRules& rules) const {
  const std::string& level = state.spec(ctx.workload).topology.required;
  if (level.empty()) return PlaceInDomain(state, ctx, count, rules);
  std::map<std::string, bool> domains;
  std::vector<uint32_t> members = MemberNodes(state, ctx.workload);
  if (!members.empty()) {
    domains[state.node_label(members.front(), level)] = true;
  } else {
    for (uint32_t n = 0; n < state.node_count(); ++n) {
      const std::string& value = state.node_label(n, level);
      if (!value.empty()) domains[value] = true;
    }
  }
  std::optional<int> best;
  std::string best_domain;
  for (const auto& [value, unused] : domains) {
    PlacementContext inner = ctx;
    inner.domain_level = level;
    inner.domain_value = value;
    size_t mark = state.Mark();
    auto evicted = PlaceInDomain(state, inner, count, rules);
    state.Rollback(mark);
    if (evicted && (!best || *evicted < *best)) {
      best = evicted;
      best_domain = value;
    }
  }
  if (!best) return std::nullopt;
  PlacementContext chosen = ctx;
  chosen.domain_level = level;
  chosen.domain_value = best_domain;
  return PlaceInDomain(state, chosen, count, rules);
}

}  // namespace allot::sched
